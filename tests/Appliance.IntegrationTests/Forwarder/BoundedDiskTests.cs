using System.Diagnostics;
using System.Text.Json;
using Appliance.Buffer;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

[Trait("Category", "Integration")]
public sealed class BoundedDiskTests
{
    private readonly ITestOutputHelper _output;

    public BoundedDiskTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Small quotas (4 MiB per lane) during an outage: the drop-oldest lane evicts its oldest records and central
    /// later receives gap markers naming exactly the missing source ranges; the critical lane loses nothing; the
    /// block lane pauses ingest (the edge keeps the data) and, after the uplink returns, delivers everything.
    /// </summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task Forward_SmallBudgetDuringOutage_DropOldestAccountedExactlyBlockLaneLossless()
    {
        const int partitions = 4;
        const int criticalCount = 2_000;
        const int normalCount = 30_000;
        const int bulkCount = 40_000;
        const int padding = 200;
        const long quota = 4L << 20;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-bounded");
        var site = TestConfig.Site();
        var critical = new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 8, "Block", quota);
        var normal = new TestLane("normal", KafkaTestHelpers.UniqueName("norm"), 2, "Block", quota);
        var bulk = new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk"), 1, "DropOldest", quota);
        var lanes = new[] { critical, normal, bulk };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        var gapTopic = $"{site}._gaps";
        await EdgeTopics.CreateAsync(edge, central, site, lanes, partitions, checkpoints);
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints);

        await central.SetAllBrokersDownAsync();
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        var produced = new Dictionary<string, int>();
        using (var load = new EdgeLoad(edge))
        {
            foreach (var (lane, count) in new[] { (critical, criticalCount), (normal, normalCount), (bulk, bulkCount) })
            {
                for (var i = 0; i < count; i++)
                {
                    load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 400}", padding);
                }

                produced[lane.Name] = count;
            }

            load.Flush();
        }

        var buffer = forwarder.Buffer;
        var sw = Stopwatch.StartNew();
        while (!(buffer.Lane("critical").GetStats().BufferedRecords == criticalCount
                 && buffer.Lane("bulk").GetStats().DroppedRecords[DropReason.DropOldest] > 0
                 && buffer.Lane("normal").BufferedBytes > quota - (256 << 10)))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"buffer did not fill: {string.Join("; ", buffer.Lanes.Select(l => l.GetStats()))}");
            await Task.Delay(50);
        }

        // Let ingest settle against the full lanes, then check the critical lane was never touched.
        await Task.Delay(1000);
        var before = buffer.Lanes.ToDictionary(l => l.Name, l => l.GetStats());
        _output.WriteLine("during outage: " + string.Join("; ", before.Values.Select(s => $"{s.Lane} buffered {s.BufferedRecords} rec {s.BufferedBytes} B, dropped {s.DroppedRecords.Values.Sum()}")));
        Assert.Equal(0, before["critical"].DroppedRecords.Values.Sum());
        Assert.Equal(0, before["normal"].DroppedRecords.Values.Sum());
        Assert.True(before["normal"].BufferedRecords < normalCount, "the block lane should have paused ingest");

        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", partitions)).ToList());
        await central.SetAllBrokersUpAsync();
        const int total = criticalCount + normalCount + bulkCount;
        sw.Restart();
        while (forwarder.Ingest.RecordsIngested < total || buffer.Lanes.Any(l => l.GetStats().BufferedRecords > 0))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(120), $"not drained: ingested {forwarder.Ingest.RecordsIngested}; "
                + string.Join("; ", buffer.Lanes.Select(l => $"{l.Name}: read {l.Reader.ReadAddress} begin {l.BeginAddress} committed {l.CommittedUntilAddress} buffered {l.GetStats().BufferedRecords}")));
            await Task.Delay(50);
        }

        var bulkDropped = (int)buffer.Lane("bulk").GetStats().DroppedRecords.Values.Sum();
        await reader.WaitForDistinctAsync(total - bulkDropped, TimeSpan.FromSeconds(60));
        await reader.WaitForEndAsync(TimeSpan.FromSeconds(60));
        var finalDropped = buffer.Lanes.ToDictionary(l => l.Name, l => l.GetStats().DroppedRecords.Values.Sum());
        Assert.Equal(0, finalDropped["critical"]);
        Assert.Equal(0, finalDropped["normal"]);
        Assert.Equal(bulkDropped, finalDropped["bulk"]);
        Assert.Equal(0, reader.Duplicates);
        Assert.Empty(Verify.PerKeyOrder(reader.Records.Where(r => r.Lane != "bulk")));

        var byLane = reader.Records.GroupBy(r => r.Lane).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(criticalCount, byLane["critical"].Count);
        Assert.Equal(normalCount, byLane["normal"].Count);
        Assert.Equal(bulkCount - bulkDropped, byLane["bulk"].Count);

        // The gap markers name exactly the bulk offsets that never arrived.
        var gaps = await central.ConsumeAllAsync(gapTopic, 1_000_000, TimeSpan.FromSeconds(5));
        Assert.NotEmpty(gaps);
        var named = new HashSet<(int, long)>();
        long counted = 0;
        foreach (var g in gaps)
        {
            using var doc = JsonDocument.Parse(g.Message.Value);
            var root = doc.RootElement;
            Assert.Equal(site, root.GetProperty("site").GetString());
            Assert.Equal("bulk", root.GetProperty("lane").GetString());
            Assert.Equal("drop_oldest", root.GetProperty("reason").GetString());
            Assert.True(root.GetProperty("first_dropped_at_ms").GetInt64() <= root.GetProperty("last_dropped_at_ms").GetInt64());
            counted += root.GetProperty("count").GetInt64();
            foreach (var r in root.GetProperty("ranges").EnumerateArray())
            {
                Assert.Equal(bulk.EdgeTopic, r.GetProperty("topic").GetString());
                var p = r.GetProperty("partition").GetInt32();
                for (var o = r.GetProperty("first_offset").GetInt64(); o <= r.GetProperty("last_offset").GetInt64(); o++)
                {
                    Assert.True(named.Add((p, o)), $"offset {p}@{o} named twice");
                }
            }
        }

        var delivered = byLane["bulk"].Select(r => (r.SourcePartition, r.SourceOffset)).ToHashSet();
        var edgeEnds = await EdgeEndsAsync(edge, bulk.EdgeTopic, partitions);
        var missing = new HashSet<(int, long)>();
        for (var p = 0; p < partitions; p++)
        {
            for (long o = 0; o < edgeEnds[p]; o++)
            {
                if (!delivered.Contains((p, o)))
                {
                    missing.Add((p, o));
                }
            }
        }

        _output.WriteLine($"bulk: produced {bulkCount}, delivered {delivered.Count}, dropped {bulkDropped}, gap markers {gaps.Count} naming {named.Count} offsets (count field {counted})");
        Assert.Equal(bulkDropped, counted);
        Assert.Equal(missing.Count, named.Count);
        Assert.True(missing.SetEquals(named), "gap markers do not name exactly the missing offsets");
        Assert.Null(forwarder.Fault);
    }

    private static Task<long[]> EdgeEndsAsync(IKafkaTestCluster edge, string topic, int partitions) => Task.Run(() =>
    {
        using var consumer = new Confluent.Kafka.ConsumerBuilder<byte[], byte[]>(edge.ConsumerConfig(KafkaTestHelpers.UniqueName("ends"))).Build();
        return Enumerable.Range(0, partitions)
            .Select(p => consumer.QueryWatermarkOffsets(new Confluent.Kafka.TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value)
            .ToArray();
    });
}
