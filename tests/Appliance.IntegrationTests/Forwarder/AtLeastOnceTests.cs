using System.Diagnostics;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

[Trait("Category", "Integration")]
public sealed class AtLeastOnceTests
{
    private readonly ITestOutputHelper _output;

    public AtLeastOnceTests(ITestOutputHelper output) => _output = output;

    /// <summary>Central without transactions: idempotent producer, leases completed on delivery reports; nothing lost, order kept.</summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task Forward_AtLeastOnceAcrossOutage_NoLossInOrderNoCheckpoints()
    {
        const int total = 20_000;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-alo");
        var site = TestConfig.Site();
        var lanes = new[] { new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 4), new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk")) };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        foreach (var l in lanes)
        {
            await edge.CreateTopicAsync(l.EdgeTopic, 4);
            await central.CreateTopicAsync($"{site}.{l.EdgeTopic}", 4);
        }

        await central.CreateTopicAsync(checkpoints, 1);
        await central.CreateTopicAsync($"{site}._gaps", 1);
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root => root["Central"]!["Delivery"] = "AtLeastOnce");
        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", 4)).ToList());
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        using var load = new EdgeLoad(edge);
        for (var i = 0; i < total / 2; i++)
        {
            var lane = lanes[i % 2];
            load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 100}");
        }

        load.Flush();
        await reader.WaitForDistinctAsync(total / 2, TimeSpan.FromSeconds(60));
        await central.SetAllBrokersDownAsync();
        for (var i = total / 2; i < total; i++)
        {
            var lane = lanes[i % 2];
            load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 100}");
        }

        load.Flush();
        var sw = Stopwatch.StartNew();
        while (forwarder.Ingest.RecordsIngested < total)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "not ingested");
            await Task.Delay(50);
        }

        await central.SetAllBrokersUpAsync();
        await reader.WaitForDistinctAsync(total, TimeSpan.FromSeconds(120));
        _output.WriteLine($"read {reader.Count}, distinct {reader.Distinct}, duplicates {reader.Duplicates}");
        Assert.Equal(total, reader.Distinct);
        Assert.Empty(Verify.PerKeyOrder(reader.Records));
        var checkpointRecords = await central.ConsumeAllAsync(checkpoints, 1, TimeSpan.FromSeconds(2));
        Assert.Empty(checkpointRecords);
        Assert.Null(forwarder.Fault);
    }
}
