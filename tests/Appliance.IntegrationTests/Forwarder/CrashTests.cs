using System.Diagnostics;
using Confluent.Kafka;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

public sealed class CrashTests
{
    private readonly ITestOutputHelper _output;

    public CrashTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// The real forwarder exe, killed with SIGKILL at random moments (during start-up, ingest, drain and
    /// transactions) while producers keep writing at the edge; both clusters live in this test process and survive.
    /// Finally every edge record is at central, in per-key order. Against a real central cluster the forwarder runs
    /// exactly once and the test asserts zero duplicates. The mock does not hide aborted or open transactions from
    /// read_committed consumers (docs/testkit.md): a kill in the middle of a transaction can leave its checkpoint
    /// visible while some of its records never reached the mock, and the next session would skip them. So on the mock
    /// the forwarder runs at-least-once (no checkpoints to misread), the test asserts no loss and order, and prints
    /// the duplicates (deliveries after the last durable truncation are sent again). The exactly-once restart path on the mock is covered deterministically by
    /// the crash-window tests (a failure between the central commit and the local truncation).
    /// </summary>
    [KafkaFact]
    [Trait("Category", "Integration")]
    public Task Forwarder_Killed8TimesWhileProducing_NoLossInOrder() => KillRepeatedlyAsync(8);

    /// <summary>The acceptance run: 24 kills (about 75 s here).</summary>
    [KafkaFact]
    [Trait("Category", "Slow")]
    public Task Forwarder_Killed24TimesWhileProducing_NoLossInOrder() => KillRepeatedlyAsync(24);

    private async Task KillRepeatedlyAsync(int kills)
    {
        const int partitions = 4;
        const int maxTransactionBytes = 32 * 1024;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-crash");
        var site = TestConfig.Site();
        var lanes = new[]
        {
            new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 8),
            new TestLane("normal", KafkaTestHelpers.UniqueName("norm"), 2),
            new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk")),
        };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, partitions, checkpoints);
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root =>
        {
            root["Central"]!["MaxTransactionBytes"] = maxTransactionBytes;
            root["Central"]!["Delivery"] = KafkaTestClusters.IsReal(KafkaClusterRole.Central) ? "ExactlyOnce" : "AtLeastOnce";
            root["Edge"]!["Kafka"]!["session.timeout.ms"] = "6000";
        });
        var dll = Path.Combine(AppContext.BaseDirectory, "appliance-forwarder.dll");
        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", partitions)).ToList());

        using var load = new EdgeLoad(edge);
        using var stopLoad = new CancellationTokenSource();
        var producing = Task.Run(async () =>
        {
            var i = 0;
            while (!stopLoad.IsCancellationRequested)
            {
                for (var j = 0; j < 100; j++, i++)
                {
                    var lane = lanes[i % 3];
                    load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 200}");
                }

                await Task.Delay(20);
            }
        });

        var random = new Random(12345);
        var sw = Stopwatch.StartNew();
        var killedWhileDelivering = 0;
        var history = new List<string>();
        for (var k = 0; k < kills; k++)
        {
            await using var child = ChildProcess.StartDotnet(dll, ["--config", config]);
            var before = reader.Count;
            if (k % 4 == 3)
            {
                // Some kills land during start-up (buffer recovery, session start, checkpoint read).
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(200, 1500)));
            }
            else
            {
                await child.WaitForLineAsync(l => l.Contains("Drain session started", StringComparison.Ordinal), TimeSpan.FromSeconds(30));
                await Task.Delay(TimeSpan.FromMilliseconds(random.Next(100, 2500)));
            }

            if (reader.Count > before)
            {
                killedWhileDelivering++;
            }

            child.Kill();

            await child.WaitForExitAsync(TimeSpan.FromSeconds(10));
            history.Add($"run {k}: killed at {sw.Elapsed.TotalSeconds:F1} s, central {before} -> {reader.Count}; "
                + string.Join(" | ", child.StdoutLines.Where(l => l.Contains("Checkpoint of lane", StringComparison.Ordinal) || l.Contains("fail", StringComparison.OrdinalIgnoreCase))));
        }

        await stopLoad.CancelAsync();
        await producing;
        load.Flush();
        var produced = (int)load.Produced;
        _output.WriteLine($"{kills} kills in {sw.Elapsed.TotalSeconds:F0} s ({killedWhileDelivering} while central was receiving); produced {produced}; central has {reader.Distinct} distinct so far");

        await using (var final = ChildProcess.StartDotnet(dll, ["--config", config]))
        {
            await reader.WaitForDistinctAsync(produced, TimeSpan.FromSeconds(120), () =>
                $"{reader.DescribeMissing(EdgeTopics.Ends(edge, lanes, partitions))}\n{string.Join("\n", history)}\nfinal run: {final.OutputTail()}");
            final.Terminate();
            Assert.Equal(0, await final.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        }

        // Nothing writes any more: read central to its end so late extras are counted too.
        await reader.WaitForEndAsync(TimeSpan.FromSeconds(60));

        _output.WriteLine($"central: {reader.Count} read, {reader.Distinct} distinct, {reader.Duplicates} duplicates; {sw.Elapsed.TotalSeconds:F0} s in total");
        Assert.Equal(produced, reader.Distinct);
        Assert.Empty(Verify.PerKeyOrder(reader.Records));
        if (KafkaTestClusters.IsReal(KafkaClusterRole.Central))
        {
            Assert.Equal(0, reader.Duplicates);
        }
        else
        {
            // At-least-once: a kill resends what was delivered after the last durable truncation (up to one buffer
            // commit interval of deliveries, several batches); a resend loop would exceed one copy of everything.
            Assert.InRange(reader.Duplicates, 0, produced);
        }
    }
}
