using Appliance.TestKit;

namespace Appliance.IntegrationTests.TestKit;

[Trait("Category", "Unit")]
public sealed class TestKitHelperTests
{
    [Fact]
    public void UniqueName_SamePrefix_DistinctLegalTopicNames()
    {
        var names = Enumerable.Range(0, 100).Select(_ => KafkaTestHelpers.UniqueName("orders")).ToList();

        Assert.Equal(100, names.Distinct().Count());
        Assert.All(names, n => Assert.Matches("^orders-[0-9a-f]{12}$", n));
    }

    [Fact]
    public void ParseProperties_KeyValueList_SplitsOnSemicolonsAndFirstEquals()
    {
        var properties = KafkaTestClusters.ParseProperties(" security.protocol=SASL_SSL; sasl.mechanism=PLAIN;;sasl.password=a=b ");

        Assert.Equal(
            new Dictionary<string, string> { ["security.protocol"] = "SASL_SSL", ["sasl.mechanism"] = "PLAIN", ["sasl.password"] = "a=b" },
            properties);
        Assert.Empty(KafkaTestClusters.ParseProperties(null));
        Assert.Throws<FormatException>(() => KafkaTestClusters.ParseProperties("novalue"));
    }

    [Fact]
    public void ConsumerConfig_Defaults_LowFetchBackoffAndGivenIsolation()
    {
        var config = KafkaTestHelpers.ConsumerConfig("127.0.0.1:1", "g", Confluent.Kafka.IsolationLevel.ReadUncommitted);

        Assert.Equal(10, config.FetchQueueBackoffMs);
        Assert.Equal(Confluent.Kafka.IsolationLevel.ReadUncommitted, config.IsolationLevel);
        Assert.Equal("g", config.GroupId);
    }

    [Fact]
    public void Dispose_TempDirectoryWithFiles_RemovesEverything()
    {
        string path;
        using (var temp = new TempDirectory("kit"))
        {
            path = temp.Path;
            Directory.CreateDirectory(temp.Combine("a", "b"));
            File.WriteAllText(temp.Combine("a", "b", "f.txt"), "x");
        }

        Assert.False(Directory.Exists(path));
    }

    [Fact]
    public async Task Kill_RunningChild_ExitsBySigkillAndIsReaped()
    {
        using var child = ChildProcess.Start("sh", ["-c", "echo started; exec sleep 60"]);
        await child.WaitForLineAsync(l => l == "started", TimeSpan.FromSeconds(10));

        child.Kill();
        var exitCode = await child.WaitForExitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(128 + 9, exitCode);
        Assert.True(child.HasExited);
    }

    [Fact]
    public async Task WaitForLineAsync_ProcessExitsWithoutLine_ThrowsInsteadOfWaiting()
    {
        using var child = ChildProcess.Start("sh", ["-c", "echo other"]);

        await Assert.ThrowsAsync<InvalidOperationException>(() => child.WaitForLineAsync(l => l == "never", TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Dispose_RunningChild_KillsIt()
    {
        var child = ChildProcess.Start("sh", ["-c", "echo started; exec sleep 60"]);
        await child.WaitForLineAsync(l => l == "started", TimeSpan.FromSeconds(10));
        var pid = child.Id;

        child.Dispose();

        Assert.False(Directory.Exists($"/proc/{pid}"), $"process {pid} still exists (or is a zombie) after Dispose");
    }
}
