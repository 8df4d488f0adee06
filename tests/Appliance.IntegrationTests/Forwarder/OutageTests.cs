using System.Diagnostics;
using Appliance.Forwarder.Drain;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

[Trait("Category", "Integration")]
public sealed class OutageTests
{
    private readonly ITestOutputHelper _output;

    public OutageTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// Central goes down in the middle of a session and comes back: the producer lost every broker, so the drain asks
    /// for the partitions' leaders again before its next transaction (instead of waiting for librdkafka's once-a-second
    /// look for leaderless partitions, which held the first transaction after a reconnection up to a second), and every
    /// record arrives once.
    /// </summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task Forward_CentralDownMidSession_LeadersAskedForAgainAndEveryRecordOnce()
    {
        const int before = 2_000;
        const int during = 2_000;
        const int partitions = 16;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central(3);
        using var dir = new TempDirectory("fwd-midsession");
        var site = TestConfig.Site();
        var lanes = new[] { new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk"), Weight: 1) };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, partitions, checkpoints);
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints);
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        await using var reader = new CentralReader(central, [($"{site}.{lanes[0].EdgeTopic}", partitions)]);
        using var load = new EdgeLoad(edge);
        for (var i = 0; i < before; i++)
        {
            load.Produce(lanes[0].EdgeTopic, $"k{i % 100}");
        }

        load.Flush();
        await reader.WaitForDistinctAsync(before, TimeSpan.FromSeconds(60), () => $"delivered {forwarder.Drain.RecordsDelivered}, fault {forwarder.Fault}");
        Assert.Equal(0, forwarder.Drain.LeaderRefreshes);

        await central.SetAllBrokersDownAsync();
        var sw = Stopwatch.StartNew();
        while (!forwarder.Drain.LeadersStale)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(30), "the producer did not report all brokers down");
            await Task.Delay(20);
        }

        for (var i = 0; i < during; i++)
        {
            load.Produce(lanes[0].EdgeTopic, $"k{i % 100}");
        }

        load.Flush();
        await central.SetAllBrokersUpAsync();
        await reader.WaitForDistinctAsync(before + during, TimeSpan.FromSeconds(60), () => $"delivered {forwarder.Drain.RecordsDelivered}, fault {forwarder.Fault}");
        Assert.True(forwarder.Drain.LeaderRefreshes >= 1, "the drain did not ask for the leaders again after the outage");
        Assert.False(forwarder.Drain.LeadersStale);
        Assert.Equal(0, reader.Duplicates);
    }

    /// <summary>
    /// Both ways records travel: polled from the edge and handed to the transactional producer through librdkafka
    /// directly (the default), and through Confluent.Kafka's Consume and Produce.
    /// </summary>
    [KafkaTheory(FaultInjectionOn = KafkaClusterRole.Central)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Forward_CentralDownWhileEdgeProduces_EveryRecordExactlyOnceInOrderWithHeaders(bool direct)
    {
        const int total = 100_000;
        const int partitions = 8;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central(3);
        using var dir = new TempDirectory("fwd-outage");
        var site = TestConfig.Site();
        var lanes = new[]
        {
            new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), Weight: 8),
            new TestLane("normal", KafkaTestHelpers.UniqueName("norm"), Weight: 2),
            new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk"), Weight: 1),
        };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, partitions, checkpoints);
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root =>
        {
            root["Central"]!["DirectProduce"] = direct;
            root["Edge"]!["DirectConsume"] = direct;
        });

        await central.SetAllBrokersDownAsync();
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        using (var load = new EdgeLoad(edge))
        {
            for (var i = 0; i < total; i++)
            {
                var lane = lanes[i % 3];
                load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 500}");
            }

            load.Flush();
        }

        var sw = Stopwatch.StartNew();
        while (forwarder.Ingest.RecordsIngested < total)
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"ingested only {forwarder.Ingest.RecordsIngested} of {total}");
            await Task.Delay(50);
        }

        _output.WriteLine($"buffered {total} records during the outage in {sw.ElapsedMilliseconds} ms; delivered so far {forwarder.Drain.RecordsDelivered}");
        Assert.Equal(0, forwarder.Drain.RecordsDelivered);

        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", partitions)).ToList());
        sw.Restart();
        await central.SetAllBrokersUpAsync();
        await reader.WaitForDistinctAsync(total, TimeSpan.FromSeconds(120), () => $"delivered {forwarder.Drain.RecordsDelivered}, fault {forwarder.Fault}");
        _output.WriteLine($"central received all {total} records {sw.ElapsedMilliseconds} ms after reconnection");
        Assert.Equal(direct, forwarder.Drain.ProducesDirectly);
        Assert.Equal(direct, forwarder.Ingest.ConsumesDirectly);

        // Let any stray duplicate arrive before judging: wait until the buffer is empty, then read central to its end.
        while (forwarder.Buffer.Lanes.Any(l => l.GetStats().BufferedRecords > 0))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(150), "buffer did not drain");
            await Task.Delay(50);
        }

        await reader.WaitForEndAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(0, reader.Duplicates);
        Assert.Equal(total, reader.Count);
        Assert.Empty(Verify.PerKeyOrder(reader.Records));
        foreach (var r in reader.Records)
        {
            var lane = lanes.Single(l => r.Topic == $"{site}.{l.EdgeTopic}");
            Assert.Equal(site, r.Site);
            Assert.Equal(lane.Name, r.Lane);
            Assert.Equal(lane.EdgeTopic, r.SourceTopic);
            Assert.InRange(r.SourcePartition, 0, partitions - 1);
            Assert.True(r.SourceOffset >= 0 && r.SourceTimestamp > 0);
        }

        Assert.Null(forwarder.Fault);
    }
}
