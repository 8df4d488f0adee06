using System.Text;
using Appliance.Buffer;
using Appliance.Core.Pipeline;
using Appliance.Core.Records;
using Appliance.Forwarder.Ingest;
using Appliance.Forwarder.Options;
using Microsoft.Extensions.Logging.Abstractions;
using RouteOptions = Appliance.Forwarder.Options.RouteOptions;

namespace Appliance.Forwarder.Tests.Ingest;

[Trait("Category", "Unit")]
public sealed class PipelineProcessorTests
{
    private static ForwarderConfiguration Config(params StepOptions[] steps) => new()
    {
        Site = new() { Id = "store-042" },
        Buffer = new BufferOptions
        {
            DataDirectory = "/tmp/x",
            TotalBudgetBytes = 1L << 30,
            Lanes = [new LaneOptions { Name = "critical", QuotaBytes = 512L << 20 }, new LaneOptions { Name = "bulk", QuotaBytes = 512L << 20 }],
        },
        Edge = new() { BootstrapServers = "edge:9092" },
        Central = new() { BootstrapServers = "central:9092" },
        Routes =
        [
            new RouteOptions { Name = "s", Topics = ["^sensor\\..*"], Lane = "critical", LateLane = "bulk", LateDestination = "{site}.{topic}.late", Steps = [.. steps] },
            new RouteOptions { Topics = ["alarms"], Lane = "bulk" },
        ],
    };

    private static StepOptions Downsample() => new() { Type = "downsample", Window = TimeSpan.FromSeconds(10), TimestampField = "value.ts" };

    private static EdgeRecord Record(long offset, string value) =>
        new(new SourcePosition("sensor.a", 0, offset), 0, Encoding.UTF8.GetBytes("k"), Encoding.UTF8.GetBytes(value));

    [Fact]
    public void Process_AggregateLateAndPoison_GoToLaneLateLaneAndDeadLetterTopic()
    {
        var config = Config(Downsample());
        var processor = new PipelineProcessor(Microsoft.Extensions.Options.Options.Create(config), TimeProvider.System, NullLogger<PipelineProcessor>.Instance);
        var route = new RouteTable(config).Resolve("sensor.a")!;
        var outputs = new List<ProcessedRecord>();

        processor.Process(route, Record(0, """{"ts":1000,"t":1}"""), outputs);
        Assert.Empty(outputs);
        processor.Process(route, Record(1, """{"ts":25000,"t":2}"""), outputs);
        var aggregate = Assert.Single(outputs);
        Assert.Equal("critical", aggregate.Lane);
        Assert.Equal("store-042.sensor.a", aggregate.Record.DestinationTopic);
        Assert.Contains("\"windowStart\":0", Encoding.UTF8.GetString(aggregate.Record.Value!), StringComparison.Ordinal);

        outputs.Clear();
        processor.Process(route, Record(2, """{"ts":2000,"t":3}"""), outputs);
        var late = Assert.Single(outputs);
        Assert.Equal("bulk", late.Lane);
        Assert.Equal("store-042.sensor.a.late", late.Record.DestinationTopic);

        outputs.Clear();
        processor.Process(route, Record(3, "not json"), outputs);
        var dead = Assert.Single(outputs);
        Assert.Null(dead.Lane);
        Assert.Equal("store-042._dead-letters", dead.Record.DestinationTopic);
        Assert.Contains(dead.Record.Headers, h => h.Key == PipelineHeaders.DeadLetterErrorClass && Encoding.UTF8.GetString(h.Value!) == PipelineDataException.InvalidJson);
        Assert.Equal(1, processor.Counters.Routes["s"].DeadLettersByReason[PipelineDataException.InvalidJson]);
    }

    [Fact]
    public void Restore_CheckpointWithOpenWindow_ResumesAtTheWindowsFirstOffset()
    {
        var config = Config(Downsample());
        var first = new PipelineProcessor(Microsoft.Extensions.Options.Options.Create(config), TimeProvider.System, NullLogger<PipelineProcessor>.Instance);
        var route = new RouteTable(config).Resolve("sensor.a")!;
        var outputs = new List<ProcessedRecord>();
        first.Process(route, Record(0, """{"ts":1000,"t":1}"""), outputs);
        first.Process(route, Record(1, """{"ts":25000,"t":2}"""), outputs);
        var checkpoint = first.GetCheckpoint(new SourcePartition("sensor.a", 0));
        Assert.NotNull(checkpoint);

        var second = new PipelineProcessor(Microsoft.Extensions.Options.Options.Create(config), TimeProvider.System, NullLogger<PipelineProcessor>.Instance);
        Assert.Equal(1, second.Restore(new SourcePartition("sensor.a", 0), 2, checkpoint));
        Assert.Equal(0, new PassThroughProcessor().Restore(new SourcePartition("sensor.a", 0), 0, null));
    }

    [Fact]
    public void Problems_UnknownStepAndBadExpression_NameRouteAndStep()
    {
        var config = Config(new StepOptions { Type = "aggregate" }, new StepOptions { Type = "filter", Expression = "value.t >> 3" });
        var problems = ForwarderConfigurationValidator.Problems(config).ToList();
        Assert.Contains(problems, p => p.Contains("Route 's' (Routes[0]): step 0 (aggregate): unknown step type 'aggregate'", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.Contains("Route 's' (Routes[0]): step 1 (filter): expression syntax error", StringComparison.Ordinal));
    }

    [Fact]
    public void ToPipelineOptions_RegexTopicAndDefaultName_Mapped()
    {
        var options = PipelineProcessor.ToPipelineOptions(Config(Downsample()));
        Assert.Equal(["regex:^sensor\\..*"], options.Routes[0].Sources);
        Assert.Equal("bulk", options.Routes[1].Name);
        Assert.Equal("bulk", options.Routes[0].LateLane);
        Assert.Equal("store-042", options.SiteId);
        Assert.False(PipelineProcessor.IsNeeded(new ForwarderConfiguration { Routes = [new RouteOptions { Topics = ["a"], Lane = "x" }] }));
        Assert.Empty(PipelineProcessor.Problems(new ForwarderConfiguration { Routes = [new RouteOptions { Topics = ["a"], Lane = "x" }] }));
    }
}
