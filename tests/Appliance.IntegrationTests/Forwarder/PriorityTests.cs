using System.Diagnostics;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

public sealed class PriorityTests
{
    private readonly ITestOutputHelper _output;

    public PriorityTests(ITestOutputHelper output) => _output = output;

    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    [Trait("Category", "Integration")]
    public Task Drain_BulkBacklog100kThenCritical_CriticalFirstBulkProgresses() => RunAsync(100_000);

    /// <summary>The acceptance size: 500k bulk records buffered during the outage.</summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    [Trait("Category", "Slow")]
    public Task Drain_BulkBacklog500kThenCritical_CriticalFirstBulkProgresses() => RunAsync(500_000);

    private async Task RunAsync(int bulkCount)
    {
        const int criticalCount = 1_000;
        const int partitions = 16;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-priority");
        var site = TestConfig.Site();
        var critical = new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 8, "Block", 64L << 20);
        var bulk = new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk"), 1, "Block", 256L << 20);
        var lanes = new[] { critical, bulk };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, partitions, checkpoints);
        // 256 KiB transactions: the backlog takes many transactions (about 80 for 100k records), so "critical before
        // the backlog is drained" does not hinge on a handful of large ones.
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root => root["Central"]!["MaxTransactionBytes"] = 262144);
        await central.SetAllBrokersDownAsync();
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        using var load = new EdgeLoad(edge);
        var sw = Stopwatch.StartNew();
        for (var i = 0; i < bulkCount; i++)
        {
            load.Produce(bulk.EdgeTopic, $"bulk-k{i % 1000}");
        }

        load.Flush();
        while (forwarder.Ingest.RecordsIngested < bulkCount)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(180), $"ingested only {forwarder.Ingest.RecordsIngested}");
            await Task.Delay(50);
        }

        _output.WriteLine($"bulk backlog: {bulkCount} records, {forwarder.Buffer.Lane("bulk").BufferedBytes} buffer bytes, buffered in {sw.Elapsed.TotalSeconds:F1} s");
        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", partitions)).ToList());
        await central.SetAllBrokersUpAsync();
        var reconnected = Stopwatch.GetTimestamp();
        for (var i = 0; i < criticalCount; i++)
        {
            load.Produce(critical.EdgeTopic, $"crit-k{i % 50}");
        }

        load.Flush();
        var produced = Stopwatch.GetElapsedTime(reconnected);
        sw.Restart();
        while (reader.Records.Count(r => r.Lane == "critical") < criticalCount)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"critical: {reader.Records.Count(r => r.Lane == "critical")} of {criticalCount}");
            await Task.Delay(20);
        }

        // Bulk taken out of the buffer (committed at central) by then: the transactions that carried the critical
        // records also carried bulk batches when both lanes had data.
        var bulkCommitted = bulkCount - forwarder.Buffer.Lane("bulk").GetStats().BufferedRecords;
        var snapshot = reader.Records.ToList();
        var criticalDone = snapshot.Where(r => r.Lane == "critical").Max(r => r.ReadAtTicks);
        var bulkBefore = snapshot.Count(r => r.Lane == "bulk" && r.ReadAtTicks <= criticalDone);
        var latencies = snapshot.Where(r => r.Lane == "critical")
            .Select(r => Stopwatch.GetElapsedTime(reconnected, r.ReadAtTicks).TotalMilliseconds).OrderBy(x => x).ToList();
        _output.WriteLine($"critical produced within {produced.TotalMilliseconds:F0} ms of reconnection; latency from reconnection p50 {latencies[latencies.Count / 2]:F0} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F0} ms, max {latencies[^1]:F0} ms");
        _output.WriteLine($"when the last critical record arrived: bulk committed at central {bulkCommitted} of {bulkCount}, read by the test so far {bulkBefore}");

        await reader.WaitForDistinctAsync(bulkCount + criticalCount, TimeSpan.FromSeconds(300));
        var bulkDone = reader.Records.Where(r => r.Lane == "bulk").Max(r => r.ReadAtTicks);
        _output.WriteLine($"bulk backlog drained {Stopwatch.GetElapsedTime(reconnected, bulkDone).TotalSeconds:F1} s after reconnection ({bulkCount / Stopwatch.GetElapsedTime(reconnected, bulkDone).TotalSeconds:F0} records/s incl. reconnect)");

        _output.WriteLine($"drain: {forwarder.Drain.DeliveryTimes}");
        // Critical before the bulk backlog was drained, and bulk was not starved meanwhile.
        Assert.True(bulkBefore < bulkCount && bulkCommitted < bulkCount, "the whole bulk backlog went before the critical records");
        Assert.True(bulkCommitted > 0, "bulk made no progress while critical records were sent");
        Assert.Equal(0, reader.Duplicates);
    }
}
