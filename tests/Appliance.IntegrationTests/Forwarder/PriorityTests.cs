using System.Diagnostics;
using Appliance.Forwarder.Drain;
using Appliance.TestKit;
using Confluent.Kafka;
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

        var snapshot = reader.Records.ToList();
        var latencies = snapshot.Where(r => r.Lane == "critical")
            .Select(r => Stopwatch.GetElapsedTime(reconnected, r.ReadAtTicks).TotalMilliseconds).OrderBy(x => x).ToList();
        _output.WriteLine($"critical produced within {produced.TotalMilliseconds:F0} ms of reconnection; latency from reconnection p50 {latencies[latencies.Count / 2]:F0} ms, p99 {latencies[(int)(latencies.Count * 0.99)]:F0} ms, max {latencies[^1]:F0} ms");

        await reader.WaitForDistinctAsync(bulkCount + criticalCount, TimeSpan.FromSeconds(300));
        var bulkDone = reader.Records.Where(r => r.Lane == "bulk").Max(r => r.ReadAtTicks);
        _output.WriteLine($"bulk backlog drained {Stopwatch.GetElapsedTime(reconnected, bulkDone).TotalSeconds:F1} s after reconnection ({bulkCount / Stopwatch.GetElapsedTime(reconnected, bulkDone).TotalSeconds:F0} records/s incl. reconnect)");
        _output.WriteLine($"drain: {forwarder.Drain.DeliveryTimes}");

        // The order of the transactions, from central itself: every transaction wrote one checkpoint per lane it
        // carried, in the checkpoint topic's single partition, in commit order (what the buffer or the test's reader
        // saw at some moment would race with the commit). Bulk committed up to and including the transaction that
        // carried the last critical record:
        var order = await ReadCheckpointsAsync(central, checkpoints);
        var lastCritical = CriticalCompletedAt(order, criticalCount);
        var bulkByThen = order.Where(c => c.Checkpoint.Lane == "bulk" && c.Transaction <= lastCritical.Transaction).Sum(c => c.Checkpoint.BatchRecords);
        var criticalTransactions = order.Where(c => c.Checkpoint.Lane == "critical").Select(c => c.Transaction).ToHashSet();
        var bulkAlongside = order.Where(c => c.Checkpoint.Lane == "bulk" && criticalTransactions.Contains(c.Transaction)).Sum(c => c.Checkpoint.BatchRecords);
        _output.WriteLine($"transactions: {order.Select(c => c.Transaction).Distinct().Count()}; the last critical record went in transaction {lastCritical.Transaction + 1}; bulk committed up to then {bulkByThen} of {bulkCount}, {bulkAlongside} of them in the transactions that carried critical records");

        // Critical before the bulk backlog was drained, and bulk was not starved meanwhile.
        Assert.True(bulkByThen < bulkCount, "the whole bulk backlog went before the last critical record");
        Assert.True(bulkAlongside > 0, "no bulk record shared a transaction with critical records: bulk starved while critical records were sent");
        Assert.Equal(0, reader.Duplicates);
    }

    /// <summary>A checkpoint read back at central and the transaction (counted from 0) that wrote it.</summary>
    private sealed record OrderedCheckpoint(int Transaction, Checkpoint Checkpoint);

    /// <summary>
    /// The checkpoint that completed <paramref name="criticalCount"/> critical records (the critical lane's batches
    /// add up to it; the lane had nothing before the reconnection).
    /// </summary>
    private static OrderedCheckpoint CriticalCompletedAt(List<OrderedCheckpoint> order, int criticalCount)
    {
        var total = 0;
        foreach (var c in order.Where(c => c.Checkpoint.Lane == "critical"))
        {
            total += c.Checkpoint.BatchRecords;
            if (total >= criticalCount)
            {
                return c;
            }
        }

        throw new Xunit.Sdk.XunitException($"the checkpoints account for {total} critical records, not {criticalCount}");
    }

    /// <summary>
    /// Reads the whole checkpoint topic (one partition, read_committed) in order. A transaction writes its lanes'
    /// checkpoints at consecutive offsets and ends with a commit marker, which takes an offset no consumer sees: a
    /// gap in the offsets starts the next transaction.
    /// </summary>
    private static async Task<List<OrderedCheckpoint>> ReadCheckpointsAsync(IKafkaTestCluster central, string topic)
    {
        return await Task.Run(() =>
        {
            var config = central.ConsumerConfig(KafkaTestHelpers.UniqueName("cp-order"));
            config.EnablePartitionEof = true;
            using var consumer = new ConsumerBuilder<byte[], byte[]>(config).Build();
            var tp = new TopicPartition(topic, 0);
            var end = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value;
            consumer.Assign(new TopicPartitionOffset(tp, Offset.Beginning));
            var order = new List<OrderedCheckpoint>();
            var transaction = -1;
            var previous = -2L;
            var sw = Stopwatch.StartNew();
            while (true)
            {
                Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"checkpoint topic: {order.Count} read, end offset {end} not reached");
                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null)
                {
                    continue;
                }

                if (r.IsPartitionEOF)
                {
                    if (r.Offset.Value >= end)
                    {
                        return order;
                    }

                    continue;
                }

                var cp = Checkpoint.Parse(r.Message.Value) ?? throw new Xunit.Sdk.XunitException($"checkpoint at offset {r.Offset.Value} does not parse");
                if (r.Offset.Value != previous + 1)
                {
                    transaction++;
                }

                previous = r.Offset.Value;
                order.Add(new OrderedCheckpoint(transaction, cp));
            }
        });
    }
}
