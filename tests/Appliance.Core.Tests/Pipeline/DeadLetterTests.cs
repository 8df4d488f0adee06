using Appliance.Core.Pipeline;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline;

[Trait("Category", "Unit")]
public sealed class DeadLetterTests
{
    private static RecordPipeline Telemetry() => Build(new RouteOptions
    {
        Name = "telemetry",
        Sources = ["t"],
        Lane = "normal",
        Steps =
        [
            new StepOptions { Type = "filter", Expression = "value.temp > 0" },
            new StepOptions { Type = "downsample", Window = TimeSpan.FromSeconds(10), TimestampField = "value.ts", Fields = ["value.temp"] },
        ],
    });

    [Fact]
    public void Process_PoisonRecords_DeadLettersWithReasonsAndCounts()
    {
        var p = Telemetry();
        var inputs = new (string? Json, string? ErrorClass)[]
        {
            ("""{"ts":1,"temp":5}""", null),
            ("""{"ts":1,"temp":""", "InvalidJson"),
            ("""not json""", "InvalidJson"),
            ("""[1,2,3]""", "NotAnObject"),
            ("""42""", "NotAnObject"),
            (null, null),                                  // a tombstone has no fields: the filter is false, dropped
            ("""{"temp":5}""", "MissingField"),
            ("""{"ts":"soon","temp":5}""", "WrongType"),
            ("""{"ts":2,"temp":{"c":5}}""", null),         // filter: an object is not > 0, dropped (not an error)
            ("""{"ts":2,"temp":"5"}""", null),             // filter: a string is not > 0, dropped
            ("""{"ts":3,"temp":6}""", null),
        };

        var outputs = new List<PipelineOutput>();
        for (var i = 0; i < inputs.Length; i++)
        {
            var before = outputs.Count;
            p.Process(Rec(inputs[i].Json, key: "dev", offset: i, headers: [("trace", "abc")]), outputs);
            if (inputs[i].ErrorClass is { } expected)
            {
                var dead = Assert.Single(outputs.Skip(before));
                Assert.Equal(PipelineOutputKind.DeadLetter, dead.Kind);
                Assert.Equal(expected, dead.DeadLetter!.ErrorClass);
                Assert.Null(dead.Lane);
                Assert.Null(dead.Record.DestinationTopic);
                Assert.Equal(i, dead.Record.Source.Offset);
                Assert.Equal(inputs[i].Json, dead.ValueText());
                Assert.Equal("abc", dead.Header("trace"));
                Assert.Equal("telemetry", dead.Header(PipelineHeaders.DeadLetterRoute));
                Assert.Equal(expected, dead.Header(PipelineHeaders.DeadLetterErrorClass));
                Assert.Equal(dead.DeadLetter.Message, dead.Header(PipelineHeaders.DeadLetterError));
                Assert.Equal(dead.DeadLetter.Step, dead.Header(PipelineHeaders.DeadLetterStep));
                Assert.Equal(expected is "MissingField" or "WrongType" ? "1:downsample" : "0:filter", dead.DeadLetter.Step);
            }
            else
            {
                Assert.Equal(before, outputs.Count);
            }
        }

        var counters = p.Counters.Routes["telemetry"];
        Assert.Equal(inputs.Length, counters.In);
        Assert.Equal(6, counters.DeadLetters);
        Assert.Equal(
            new Dictionary<string, long> { ["InvalidJson"] = 2, ["NotAnObject"] = 2, ["MissingField"] = 1, ["WrongType"] = 1 },
            counters.DeadLettersByReason);

        // Processing continued: the good records still form the window.
        var agg = Assert.Single(p.Process(Rec("""{"ts":10000,"temp":1}""", key: "dev", offset: 99)));
        Assert.Contains("\"count\":2", agg.ValueText(), StringComparison.Ordinal);
    }

    [Fact]
    public void Process_TombstoneInStepNeedingValue_MissingValue()
    {
        var p = Build(new StepOptions { Type = "project", Keep = ["value.a"] });
        var dead = Assert.Single(p.Process(Rec(null)));
        Assert.Equal(("MissingValue", "the record has no value (tombstone)"), (dead.DeadLetter!.ErrorClass, dead.DeadLetter.Message));
    }

    [Fact]
    public void Process_UnexpectedExceptionInStep_IsDeadLetterWithTypeName()
    {
        // A duplicate name inside a nested object surfaces only when a step reads it: an unexpected exception.
        var p = Build(new StepOptions { Type = "rename", Rename = new() { ["value.a.x"] = "value.b" } });
        var dead = Assert.Single(p.Process(Rec("""{"a":{"x":1,"x":2}}""")));
        Assert.Equal(PipelineOutputKind.DeadLetter, dead.Kind);
        Assert.Equal(("0:rename", "ArgumentException"), (dead.DeadLetter!.Step, dead.DeadLetter.ErrorClass));
        Assert.Equal(1, p.Counters.Routes["r"].DeadLettersByReason["ArgumentException"]);

        var top = Assert.Single(p.Process(Rec("""{"a":1,"a":2}""")));
        Assert.Equal("InvalidJson", top.DeadLetter!.ErrorClass);
    }
}
