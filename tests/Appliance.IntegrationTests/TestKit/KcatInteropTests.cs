using Appliance.TestKit;

namespace Appliance.IntegrationTests.TestKit;

/// <summary>
/// Debian's kcat (its own librdkafka build, another process) talks to the edge test cluster: proves the mock is a
/// real network broker, not an in-process shortcut.
/// </summary>
[Trait("Category", "Integration")]
public sealed class KcatInteropTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [KafkaFact]
    public async Task Kcat_ProducesKeyedRecords_ConfluentConsumerAndKcatReadThemBack()
    {
        var kcat = FindKcat() ?? throw new Xunit.Sdk.XunitException("kcat is not installed: run `apt-get install kcat` (the project's setup script installs it)");
        await using var cluster = KafkaTestClusters.Edge(mockBrokers: 2);
        var topic = KafkaTestHelpers.UniqueName("kit-kcat");
        await cluster.CreateTopicAsync(topic, partitions: 2);
        var records = TestRecords.Keyed(100);

        using (var producer = ChildProcess.Start(kcat, [.. KcatArgs(cluster), "-P", "-t", topic, "-K", "\t", "-X", "acks=all"]))
        {
            foreach (var (key, value) in records)
            {
                await producer.WriteLineAsync($"{key}\t{value}");
            }

            producer.CloseStdin();
            Assert.True(await producer.WaitForExitAsync(Deadline) == 0, $"kcat -P failed: {producer.OutputTail()}");
        }

        var readByConfluent = await cluster.ConsumeAllAsync(topic, records.Count, Deadline);

        using var consumer = ChildProcess.Start(kcat, [.. KcatArgs(cluster), "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k\t%s\n"]);
        Assert.True(await consumer.WaitForExitAsync(Deadline) == 0, $"kcat -C failed: {consumer.OutputTail()}");
        var readByKcat = consumer.StdoutLines.Where(l => l.Length > 0).Select(l => l.Split('\t')).Select(p => (p[0], p[1])).ToList();

        TestRecords.AssertSameRecordsInKeyOrder(records, readByConfluent);
        Assert.Equal(records.Count, readByKcat.Count);
        foreach (var key in records.Select(r => r.Key).Distinct())
        {
            Assert.Equal(records.Where(r => r.Key == key).Select(r => r.Value), readByKcat.Where(r => r.Item1 == key).Select(r => r.Item2));
        }
    }

    private static IEnumerable<string> KcatArgs(IKafkaTestCluster cluster) =>
        ["-b", cluster.BootstrapServers, .. cluster.ClientProperties.SelectMany(p => new[] { "-X", $"{p.Key}={p.Value}" })];

    private static string? FindKcat() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, "kcat"))
            .FirstOrDefault(File.Exists);
}
