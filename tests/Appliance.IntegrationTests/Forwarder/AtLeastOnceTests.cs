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
        await EdgeTopics.CreateAsync(edge, central, site, lanes, 4, checkpoints);
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

    /// <summary>
    /// Central goes down while batches are in flight, for about as long as the timeout, several times. Before the
    /// fix a message timing out inside the live idempotent producer left a gap (later records of its partition
    /// landed, the batch was resent from its start) and per-key order broke at central; now no message times out
    /// inside a producer, the session ends it instead.
    /// </summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task Forward_AtLeastOnceOutagesMidBatch_FirstCopiesInOrder()
    {
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-alo-mid");
        var site = TestConfig.Site();
        var lanes = new[] { new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 4), new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk")) };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, 4, checkpoints);
        const int timeoutMs = 2000;
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root =>
        {
            root["Central"]!["Delivery"] = "AtLeastOnce";
            root["Central"]!["TransactionTimeoutMs"] = timeoutMs;
            // Reconnect within 100 ms of central coming back, so that it often returns while the messages of a
            // batch produced during the outage are timing out one after the other.
            root["Central"]!["Kafka"]!["reconnect.backoff.max.ms"] = "100";
        });
        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", 4)).ToList());
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        using var load = new EdgeLoad(edge);
        using var stop = new CancellationTokenSource();
        var producing = Task.Run(async () =>
        {
            var i = 0;
            while (!stop.IsCancellationRequested)
            {
                for (var j = 0; j < 100; j++, i++)
                {
                    var lane = lanes[i % 2];
                    load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 50}", valuePadding: 100);
                }

                await Task.Delay(20);
            }
        });
        var random = new Random(7);
        for (var outage = 0; outage < 8; outage++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(300, 800)));
            await central.SetAllBrokersDownAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(random.Next(timeoutMs - 300, timeoutMs + 100)));
            await central.SetAllBrokersUpAsync();
        }

        await stop.CancelAsync();
        await producing;
        load.Flush();
        var total = (int)load.Produced;
        await reader.WaitForDistinctAsync(total, TimeSpan.FromSeconds(120), () => reader.DescribeMissing(EdgeTopics.Ends(edge, lanes, 4)));
        _output.WriteLine($"produced {total}, read {reader.Count}, distinct {reader.Distinct}, redelivered {reader.Duplicates}");
        Assert.Equal(total, reader.Distinct);
        Assert.Empty(Verify.PerKeyOrder(reader.Records));
        Assert.Null(forwarder.Fault);
    }
}
