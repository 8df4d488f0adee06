using Appliance.Core.Pipeline;
using Appliance.Core.Records;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline;

[Trait("Category", "Unit")]
public sealed class RecordPipelineTests
{
    private static RecordPipeline TwoRoutes() => Build(
        new RouteOptions { Name = "exact", Sources = ["sensors.special"], Lane = "critical", DestinationTemplate = "{site}.{topic}.{lane}" },
        new RouteOptions { Name = "pattern", Sources = ["regex:sensors\\..*"], Lane = "normal" });

    [Fact]
    public void Process_FirstMatchingRouteWins_AndTemplateApplies()
    {
        var p = TwoRoutes();
        var special = Assert.Single(p.Process(Rec("{}", topic: "sensors.special")));
        Assert.Equal(("exact", "critical", "s1.sensors.special.critical"), (special.Route, special.Lane, special.Record.DestinationTopic));
        var other = Assert.Single(p.Process(Rec("{}", topic: "sensors.hall")));
        Assert.Equal(("pattern", "normal", "sensors.hall"), (other.Route, other.Lane, other.Record.DestinationTopic));
    }

    [Fact]
    public void Process_RegexIsAnchored_AndUnroutedRecordsAreCounted()
    {
        var p = TwoRoutes();
        Assert.Empty(p.Process(Rec("{}", topic: "raw.sensors.hall")));
        Assert.Empty(p.Process(Rec("{}", topic: "other")));
        Assert.Equal(2, p.Counters.Unrouted);
    }

    [Fact]
    public void Process_NoSteps_ForwardsTheSameBytesWithoutParsing()
    {
        var p = TwoRoutes();
        var input = Rec("not json at all", topic: "sensors.hall", ts: 5, headers: [("h", "1")]);
        var o = Assert.Single(p.Process(input));
        Assert.Same(input.Value, o.Record.Value);
        Assert.Same(input.Key, o.Record.Key);
        Assert.Equal(input.Source, o.Record.Source);
        Assert.Equal(5, o.Record.TimestampMs);
        Assert.Equal("1", o.Header("h"));
    }

    [Fact]
    public void Process_FilterOnly_ForwardsOriginalBytes()
    {
        var p = Build(new StepOptions { Type = "filter", Expression = "value.a == 1" });
        var input = Rec("""{ "a" : 1 }""");
        Assert.Same(input.Value, Assert.Single(p.Process(input)).Record.Value);
    }

    [Fact]
    public void GetCheckpoint_TracksNextOffsetPerPartition()
    {
        var p = TwoRoutes();
        Assert.Null(p.GetCheckpoint(new SourcePartition("sensors.hall", 0)));
        p.Process(Rec("{}", topic: "sensors.hall", offset: 41));
        p.Process(Rec("{}", topic: "other", offset: 9));
        Assert.Equal(new PipelineCheckpoint(new SourcePartition("sensors.hall", 0), 42, null, null), p.GetCheckpoint(new SourcePartition("sensors.hall", 0)));
        Assert.Equal(10, p.GetCheckpoint(new SourcePartition("other", 0))!.NextOffset);
    }

    [Theory]
    [InlineData("v1|t|0|4|2|2")]
    [InlineData("v1|a.b-c_d|12|9000000000||")]
    [InlineData("v1|t|3|7||-62135596800000")]
    public void Checkpoint_ToStringAndParse_RoundTrip(string text) => Assert.Equal(text, PipelineCheckpoint.Parse(text).ToString());

    [Theory]
    [InlineData("v2|t|0|4||")]
    [InlineData("v1|t|0|4|")]
    public void Checkpoint_ParseGarbage_ThrowsFormatException(string text) => Assert.Throws<FormatException>(() => PipelineCheckpoint.Parse(text));
}
