using Appliance.Core.Pipeline;
using Appliance.Core.Records;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Steps;

[Trait("Category", "Unit")]
public sealed class DownsampleStepTests
{
    private static StepOptions Downsample(string? tsField = "value.ts", params string[] fields) => new()
    {
        Type = "downsample",
        Window = TimeSpan.FromSeconds(10),
        AllowedLateness = TimeSpan.FromSeconds(2),
        TimestampField = tsField,
        Fields = [.. fields],
    };

    private static List<PipelineOutput> Feed(RecordPipeline p, IEnumerable<EdgeRecord> records) => [.. records.SelectMany(p.Process)];

    [Fact]
    public void Process_WindowBoundariesAndLateness_EmitsExactAggregatesAndLateRecord()
    {
        var p = Build(Downsample("value.ts", "value.temp"));
        var outs = Feed(p, [
            Rec("""{"ts":0,"temp":10}""", offset: 0),
            Rec("""{"ts":9999,"temp":20}""", offset: 1),
            Rec("""{"ts":10000,"temp":5}""", offset: 2),      // first ms of the next window
            Rec("""{"ts":8500,"temp":30}""", offset: 3),      // out of order, within the allowed lateness: joins [0,10000)
            Rec("""{"ts":12000,"temp":7}""", offset: 4),      // watermark 10000 reaches the end of [0,10000): emitted
            Rec("""{"ts":9000,"temp":99}""", offset: 5),      // its window was emitted: late
            Rec("""{"ts":21999,"temp":1}""", offset: 6),      // watermark 19999: [10000,20000) still open
            Rec("""{"ts":22000,"temp":2}""", offset: 7),      // watermark 20000: [10000,20000) emitted
        ]);

        Assert.Equal(3, outs.Count);

        var w0 = outs[0];
        Assert.Equal(PipelineOutputKind.Aggregate, w0.Kind);
        Assert.Equal(
            """{"windowStart":0,"windowEnd":10000,"count":3,"fields":{"temp":{"count":3,"min":10,"max":30,"avg":20,"last":30}},"source":{"topic":"t","partition":0,"firstOffset":0,"lastOffset":3}}""",
            w0.ValueText());
        Assert.Equal(new SourcePosition("t", 0, 4), w0.Record.Source);
        Assert.Equal("k", w0.KeyText());
        Assert.Equal(0, w0.Record.TimestampMs);
        Assert.Equal("normal", w0.Lane);
        Assert.Equal("t", w0.Record.DestinationTopic);
        Assert.Equal("0", w0.Header(PipelineHeaders.WindowStart));
        Assert.Equal("10000", w0.Header(PipelineHeaders.WindowEnd));
        Assert.Equal("t/0/6b/0", w0.Header(PipelineHeaders.WindowId));
        Assert.Equal("t/0/0-3", w0.Header(PipelineHeaders.SourceRanges));

        var late = outs[1];
        Assert.Equal(PipelineOutputKind.Late, late.Kind);
        Assert.Equal("""{"ts":9000,"temp":99}""", late.ValueText());
        Assert.Equal("true", late.Header(PipelineHeaders.Late));
        Assert.Equal(5, late.Record.Source.Offset);

        var w1 = outs[2];
        Assert.Equal(
            """{"windowStart":10000,"windowEnd":20000,"count":2,"fields":{"temp":{"count":2,"min":5,"max":7,"avg":6,"last":7}},"source":{"topic":"t","partition":0,"firstOffset":2,"lastOffset":4}}""",
            w1.ValueText());
        Assert.Equal(7, w1.Record.Source.Offset);
        Assert.Equal(1, p.Counters.Routes["r"].Late);
        Assert.Equal(2, p.Counters.Routes["r"].Aggregates);
    }

    [Fact]
    public void Process_ZeroLateness_WindowClosesAtFirstRecordAtOrPastEnd()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(100) });
        Assert.Empty(p.Process(Rec("""{"v":1}""", offset: 0, ts: 0)));
        Assert.Empty(p.Process(Rec("""{"v":3}""", offset: 1, ts: 99)));
        var o = Assert.Single(p.Process(Rec("""{"v":5}""", offset: 2, ts: 100)));
        Assert.Equal(
            """{"windowStart":0,"windowEnd":100,"count":2,"fields":{"v":{"count":2,"min":1,"max":3,"avg":2,"last":3}},"source":{"topic":"t","partition":0,"firstOffset":0,"lastOffset":1}}""",
            o.ValueText());
        var late = Assert.Single(p.Process(Rec("""{"v":7}""", offset: 3, ts: 99)));
        Assert.Equal(PipelineOutputKind.Late, late.Kind);
    }

    [Fact]
    public void Process_NoFieldsConfigured_AggregatesEveryTopLevelNumberAndSkipsOthers()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(1000) });
        p.Process(Rec("""{"a":1,"s":"x","b":2.5,"o":{"n":1}}""", offset: 0, ts: -1500));
        p.Process(Rec("""{"a":3,"c":-1}""", offset: 1, ts: -1001));
        var o = Assert.Single(p.Process(Rec("""{"a":0}""", offset: 2, ts: 0)));

        // Window starts are floored, also before the epoch: -1500 and -1001 fall in [-2000,-1000).
        Assert.Equal(
            """{"windowStart":-2000,"windowEnd":-1000,"count":2,"fields":{"a":{"count":2,"min":1,"max":3,"avg":2,"last":3},"b":{"count":1,"min":2.5,"max":2.5,"avg":2.5,"last":2.5},"c":{"count":1,"min":-1,"max":-1,"avg":-1,"last":-1}},"source":{"topic":"t","partition":0,"firstOffset":0,"lastOffset":1}}""",
            o.ValueText());
    }

    [Fact]
    public void Process_KeysAndPartitions_AreSeparateWindowsWithPerPartitionWatermarks()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10), Fields = ["value.v"] });
        p.Process(Rec("""{"v":1}""", "a", offset: 0, partition: 0, ts: 1));
        p.Process(Rec("""{"v":2}""", "b", offset: 1, partition: 0, ts: 2));
        p.Process(Rec("""{"v":3}""", "a", offset: 0, partition: 1, ts: 3));

        // Partition 1 moving far ahead does not close partition 0's windows.
        var p1 = p.Process(Rec("""{"v":4}""", "a", offset: 1, partition: 1, ts: 50));
        Assert.Equal("t/1/0-0", Assert.Single(p1).Header(PipelineHeaders.SourceRanges));

        var p0 = p.Process(Rec("""{"v":5}""", "a", offset: 2, partition: 0, ts: 10));
        Assert.Equal(["t/0/61/0", "t/0/62/0"], p0.Select(o => o.Header(PipelineHeaders.WindowId)));
        Assert.Equal(["a", "b"], p0.Select(o => o.KeyText()));
    }

    [Fact]
    public void Process_IsoTimestampField_UsesIt()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMinutes(1), TimestampField = "value.at", Fields = ["value.v"] });
        p.Process(Rec("""{"at":"2026-11-25T10:00:59.999Z","v":1}""", offset: 0));
        var o = Assert.Single(p.Process(Rec("""{"at":"2026-11-25T10:01:00Z","v":2}""", offset: 1)));
        var start = DateTimeOffset.Parse("2026-11-25T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture).ToUnixTimeMilliseconds();
        Assert.Equal(start.ToString(System.Globalization.CultureInfo.InvariantCulture), o.Header(PipelineHeaders.WindowStart));
    }

    [Fact]
    public void OldestOpenOffset_TracksTheOldestUnemittedWindow()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10) });
        var tp = new SourcePartition("t", 0);
        Assert.Null(p.OldestOpenOffset(tp));
        p.Process(Rec("{}", "a", offset: 5, ts: 1));
        p.Process(Rec("{}", "b", offset: 6, ts: 8));
        Assert.Equal(5, p.OldestOpenOffset(tp));
        Assert.Equal(new PipelineCheckpoint(tp, 7, 5, null), p.GetCheckpoint(tp));
        p.Process(Rec("{}", "b", offset: 7, ts: 20));  // closes a@[0,10) and b@[0,10)
        Assert.Equal(7, p.OldestOpenOffset(tp));

        // The clock to restore is the one just before the oldest open window took its first record.
        Assert.Equal(new PipelineCheckpoint(tp, 8, 7, 8), p.GetCheckpoint(tp));
    }

    [Fact]
    public void Process_LateLaneAndTemplate_RouteLateRecords()
    {
        var p = Build(new RouteOptions
        {
            Name = "r",
            Sources = ["t"],
            Lane = "high",
            LateLane = "bulk",
            DestinationTemplate = "{site}.{topic}.agg",
            LateDestinationTemplate = "{site}.{topic}.late",
            Steps = [new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10) }],
        });
        p.Process(Rec("{}", offset: 0, ts: 1));
        var agg = Assert.Single(p.Process(Rec("{}", offset: 1, ts: 10)));
        Assert.Equal(("high", "s1.t.agg"), (agg.Lane, agg.Record.DestinationTopic));
        var late = Assert.Single(p.Process(Rec("{}", offset: 2, ts: 3)));
        Assert.Equal((PipelineOutputKind.Late, "bulk", "s1.t.late"), (late.Kind, late.Lane, late.Record.DestinationTopic));
    }

    [Theory]
    [InlineData("""{"temp":1}""", "MissingField", "the event time field 'value.ts' is missing")]
    [InlineData("""{"ts":null,"temp":1}""", "MissingField", "the event time field 'value.ts' is missing")]
    [InlineData("""{"ts":true,"temp":1}""", "WrongType", "the event time field 'value.ts' is true true, not epoch milliseconds or an ISO-8601 time")]
    [InlineData("""{"ts":"yesterday","temp":1}""", "WrongType", "the event time field 'value.ts' is string \"yesterday\", not epoch milliseconds or an ISO-8601 time")]
    [InlineData("""{"ts":5,"temp":"hot"}""", "WrongType", "the field 'value.temp' is string \"hot\", not a number")]
    [InlineData("""{"ts":5,"temp":[1]}""", "WrongType", "the field 'value.temp' is array [1], not a number")]
    [InlineData("""{"ts":5""", "InvalidJson", null)]
    [InlineData("""[1,2]""", "NotAnObject", "the value is JSON array, not an object")]
    public void Process_PoisonRecord_DeadLetterAndStateUnchanged(string json, string errorClass, string? message)
    {
        var p = Build(Downsample("value.ts", "value.temp"));
        p.Process(Rec("""{"ts":1,"temp":10}""", offset: 0));
        var dead = Assert.Single(p.Process(Rec(json, offset: 1)));
        Assert.Equal(PipelineOutputKind.DeadLetter, dead.Kind);
        Assert.Equal(errorClass, dead.DeadLetter!.ErrorClass);
        Assert.Equal("0:downsample", dead.DeadLetter.Step);
        if (message is not null)
        {
            Assert.Equal(message, dead.DeadLetter.Message);
        }

        // The poison record neither advanced the clock nor joined the window.
        var agg = Assert.Single(p.Process(Rec("""{"ts":12000,"temp":20}""", offset: 2)));
        Assert.Equal(
            """{"windowStart":0,"windowEnd":10000,"count":1,"fields":{"temp":{"count":1,"min":10,"max":10,"avg":10,"last":10}},"source":{"topic":"t","partition":0,"firstOffset":0,"lastOffset":0}}""",
            agg.ValueText());
    }
}
