using System.Diagnostics;
using Appliance.TestKit;
using Xunit.Abstractions;

namespace Appliance.IntegrationTests.Forwarder;

[Trait("Category", "Integration")]
public sealed class CrashWindowTests
{
    private readonly ITestOutputHelper _output;

    public CrashWindowTests(ITestOutputHelper output) => _output = output;

    /// <summary>
    /// The window the checkpoints exist for: central committed a transaction but the buffer was not truncated. The
    /// session fails right after every third commit (as a crash would), so the next session must find its checkpoint
    /// and skip the batch; without the skip every such batch would arrive twice. Committed transactions are read
    /// correctly by the mock, so this holds on the mock and on a real cluster.
    /// </summary>
    [KafkaFact]
    public async Task Drain_FailsBetweenCommitAndTruncation_NextSessionSkipsCommittedBatch()
    {
        const int total = 20_000;
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("fwd-window");
        var site = TestConfig.Site();
        var lanes = new[] { new TestLane("critical", KafkaTestHelpers.UniqueName("crit"), 4), new TestLane("bulk", KafkaTestHelpers.UniqueName("bulk")) };
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await EdgeTopics.CreateAsync(edge, central, site, lanes, 4, checkpoints);
        // Small transactions so there are many of them.
        var config = TestConfig.Write(dir, site, edge, central, lanes, checkpoints, root => root["Central"]!["MaxTransactionBytes"] = 16384);
        await using var reader = new CentralReader(central, lanes.Select(l => ($"{site}.{l.EdgeTopic}", 4)).ToList());
        await using var forwarder = await InProcessForwarder.StartAsync(config);
        var commits = 0;
        var injected = 0;
        forwarder.Drain.AfterCommitForTests = () =>
        {
            if (++commits % 3 == 0 && injected < 8)
            {
                injected++;
                throw new IOException($"injected failure after commit {commits}");
            }
        };
        using (var load = new EdgeLoad(edge))
        {
            for (var i = 0; i < total; i++)
            {
                var lane = lanes[i % 2];
                load.Produce(lane.EdgeTopic, $"{lane.Name}-k{i % 300}");
            }

            load.Flush();
        }

        await reader.WaitForDistinctAsync(total, TimeSpan.FromSeconds(120), () => $"delivered {forwarder.Drain.RecordsDelivered}, injected {injected}");
        var sw = Stopwatch.StartNew();
        while (forwarder.Buffer.Lanes.Any(l => l.GetStats().BufferedRecords > 0))
        {
            Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), "buffer did not drain");
            await Task.Delay(50);
        }

        await reader.WaitForEndAsync(TimeSpan.FromSeconds(60));
        _output.WriteLine($"commits {commits}, injected failures {injected}, records skipped by checkpoint {forwarder.Drain.RecordsSkippedByCheckpoint}, read {reader.Count}, duplicates {reader.Duplicates}");
        Assert.True(injected >= 3, $"only {injected} failures were injected");
        Assert.True(forwarder.Drain.RecordsSkippedByCheckpoint > 0);
        Assert.Equal(0, reader.Duplicates);
        Assert.Equal(total, reader.Count);
        Assert.Empty(Verify.PerKeyOrder(reader.Records));
    }
}
