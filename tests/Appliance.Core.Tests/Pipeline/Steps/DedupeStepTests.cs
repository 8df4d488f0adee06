using Appliance.Core.Pipeline;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Steps;

[Trait("Category", "Unit")]
public sealed class DedupeStepTests
{
    private static List<long> Kept(RecordPipeline p, params (string Key, string Json, long Ts)[] records)
    {
        var kept = new List<long>();
        for (var i = 0; i < records.Length; i++)
        {
            foreach (var o in p.Process(Rec(records[i].Json, records[i].Key, offset: i, ts: records[i].Ts)))
            {
                kept.Add(o.Record.Source.Offset);
            }
        }

        return kept;
    }

    [Fact]
    public void Process_KeyAndValue_DropsRepeatsWithinTheWindowOnly()
    {
        var p = Build(new StepOptions { Type = "dedupe", Window = TimeSpan.FromMilliseconds(100) });
        var kept = Kept(
            p,
            ("a", """{"v":1}""", 0),     // kept
            ("a", """{"v":1}""", 50),    // repeat: dropped
            ("b", """{"v":1}""", 60),    // other key: kept
            ("a", """{"v":2}""", 70),    // other value: kept
            ("a", """{"v":1}""", 100),   // next window: kept
            ("a", """{"v":1}""", 199),   // repeat in [100,200): dropped
            ("a", """{"v":1}""", 99));   // window [0,100) closed (watermark 199): passes unchecked
        Assert.Equal([0L, 2, 3, 4, 6], kept);
    }

    [Fact]
    public void Process_IdField_ComparesOnlyTheId()
    {
        var p = Build(new StepOptions { Type = "dedupe", Window = TimeSpan.FromSeconds(1), IdField = "value.id" });
        var kept = Kept(
            p,
            ("a", """{"id":"e1","v":1}""", 0),
            ("b", """{"id":"e1","v":2}""", 1),
            ("a", """{"id":"e2","v":1}""", 2),
            ("a", """{"id":7,"v":1}""", 3),
            ("a", """{"id":"7","v":1}""", 4));
        Assert.Equal([0L, 2, 3, 4], kept);
    }

    [Fact]
    public void Process_MissingIdField_DeadLetter()
    {
        var p = Build(new StepOptions { Type = "dedupe", Window = TimeSpan.FromSeconds(1), IdField = "value.id" });
        var o = Assert.Single(p.Process(Rec("""{"v":1}""")));
        Assert.Equal((PipelineOutputKind.DeadLetter, "MissingField"), (o.Kind, o.DeadLetter!.ErrorClass));
    }
}
