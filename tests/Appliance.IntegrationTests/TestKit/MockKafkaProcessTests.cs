using System.Net;
using System.Net.Sockets;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.IntegrationTests.TestKit;

/// <summary>appliance-mockkafka as a child process, driven over its control stdin.</summary>
[Trait("Category", "Integration")]
public sealed class MockKafkaProcessTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task StartAsync_PortBase_AdvertisesFixedPortsAndRoundTrips()
    {
        var portBase = FreePortRange(2);
        var topic = KafkaTestHelpers.UniqueName("kit-proc");
        var options = new MockKafkaProcessOptions { Brokers = 2, PortBase = portBase };
        options.Topics.Add((topic, 2));
        await using var mock = await MockKafkaProcess.StartAsync(options);
        var records = TestRecords.Keyed(50);

        await TestRecords.ProduceAsync(mock, topic, records);
        var read = await mock.ConsumeAllAsync(topic, records.Count, Deadline);

        Assert.Equal($"127.0.0.1:{portBase},127.0.0.1:{portBase + 1}", mock.BootstrapServers);
        TestRecords.AssertSameRecordsInKeyOrder(records, read);
        using var admin = new AdminClientBuilder(mock.AdminConfig()).Build();
        Assert.Equal(
            [$"127.0.0.1:{portBase}", $"127.0.0.1:{portBase + 1}"],
            admin.GetMetadata(Deadline).Brokers.OrderBy(b => b.BrokerId).Select(b => $"{b.Host}:{b.Port}"));
    }

    [Fact]
    public async Task SetAllBrokersDownAsync_OverStdin_DeliveredOnlyAfterUp()
    {
        await using var mock = await MockKafkaProcess.StartAsync(new MockKafkaProcessOptions { Brokers = 1, PortBase = FreePortRange(1) });
        var topic = KafkaTestHelpers.UniqueName("kit-proc-down");
        await mock.CreateTopicAsync(topic, 1);
        using var producer = new ProducerBuilder<string, string>(mock.ProducerConfig()).Build();
        var shortConfig = mock.ProducerConfig();
        shortConfig.MessageTimeoutMs = 1500;
        using var shortTimeout = new ProducerBuilder<string, string>(shortConfig).Build();
        await producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "before" });

        await mock.SetAllBrokersDownAsync();
        var pending = producer.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "queued-while-down" });
        var failure = await Assert.ThrowsAsync<ProduceException<string, string>>(
            () => shortTimeout.ProduceAsync(topic, new Message<string, string> { Key = "k", Value = "timed-out" }));
        Assert.False(pending.IsCompleted, "a record was delivered while the broker was down");
        await mock.SetAllBrokersUpAsync();
        var delivered = await pending.WaitAsync(Deadline);

        Assert.Equal(ErrorCode.Local_MsgTimedOut, failure.Error.Code);
        Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        var read = await mock.ConsumeAllAsync(topic, 2, Deadline);
        Assert.Equal(["before", "queued-while-down"], read.Select(r => TestRecords.Text(r.Message.Value)));
    }

    [Fact]
    public async Task StartAsync_AdvertiseHostWithoutForwarder_MetadataNamesThatHost()
    {
        // E.g. a VM behind QEMU's user network reaches the host's loopback as 10.0.2.2.
        await using var mock = await MockKafkaProcess.StartAsync(new MockKafkaProcessOptions { Brokers = 2, AdvertiseHost = "localhost" });
        using var admin = new AdminClientBuilder(mock.AdminConfig()).Build();

        var brokers = admin.GetMetadata(Deadline).Brokers;

        Assert.Equal(2, brokers.Count);
        Assert.All(brokers, b => Assert.Equal("localhost", b.Host));
        Assert.Equal(mock.BootstrapServers, string.Join(',', brokers.OrderBy(b => b.BrokerId).Select(b => $"localhost:{b.Port}")));
    }

    [Fact]
    public async Task SendCommandAsync_UnknownCommandOrBroker_ThrowsWithErrorReply()
    {
        await using var mock = await MockKafkaProcess.StartAsync();

        var unknown = await Assert.ThrowsAsync<InvalidOperationException>(() => mock.SendCommandAsync("explode"));
        var badBroker = await Assert.ThrowsAsync<InvalidOperationException>(() => mock.SetBrokerDownAsync(7));
        var bootstrap = await mock.SendCommandAsync("bootstrap");

        Assert.Contains("error unknown command", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("broker ids are 1..1", badBroker.Message, StringComparison.Ordinal);
        Assert.Equal($"bootstrap={mock.BootstrapServers}", bootstrap);
    }

    [Fact]
    public async Task StopAsync_Sigterm_ExitsZeroAndFreesPorts()
    {
        var portBase = FreePortRange(1);
        var mock = await MockKafkaProcess.StartAsync(new MockKafkaProcessOptions { PortBase = portBase });
        await using (mock)
        {
            var exitCode = await mock.StopAsync(Deadline);

            Assert.Equal(0, exitCode);
            Assert.Contains("appliance-mockkafka: stopping", mock.Process.StderrLines);
        }

        using var probe = new TcpListener(IPAddress.Loopback, portBase);
        probe.Start();
        probe.Stop();
    }

    [Fact]
    public async Task Run_StdinAtEndOfFileWithoutControl_KeepsServingUntilSigterm()
    {
        // As under systemd: stdin is /dev/null and there is no control channel.
        var options = new ChildProcessOptions { CloseStdin = true };
        using var process = ChildProcess.StartDotnet(MockKafkaProcess.DefaultDllPath, ["--bind", "0.0.0.0", "--topic", "t:1"], options);
        var ready = await process.WaitForLineAsync(l => l.StartsWith("READY bootstrap=", StringComparison.Ordinal), Deadline);
        var bootstrap = ready["READY bootstrap=".Length..];

        using (var producer = new ProducerBuilder<string, string>(KafkaTestHelpers.ProducerConfig(bootstrap)).Build())
        {
            var delivered = await producer.ProduceAsync("t", new Message<string, string> { Key = "k", Value = "v" });
            Assert.Equal(PersistenceStatus.Persisted, delivered.Status);
        }

        Assert.False(process.HasExited);
        Assert.StartsWith("127.0.0.1:", bootstrap, StringComparison.Ordinal);
        Assert.Equal([ready], process.StdoutLines);
        process.Terminate();
        Assert.Equal(0, await process.WaitForExitAsync(Deadline));
    }

    [Fact]
    public async Task Run_ControlStdinClosed_ExitsZero()
    {
        await using var mock = await MockKafkaProcess.StartAsync();

        mock.Process.CloseStdin();

        Assert.Equal(0, await mock.Process.WaitForExitAsync(Deadline));
    }

    [Fact]
    public async Task Run_InvalidTopicArgument_ExitsNonZeroWithoutReady()
    {
        using var process = ChildProcess.StartDotnet(MockKafkaProcess.DefaultDllPath, ["--topic", "no-partitions"], new ChildProcessOptions { CloseStdin = true });

        var exitCode = await process.WaitForExitAsync(Deadline);

        Assert.NotEqual(0, exitCode);
        Assert.DoesNotContain(process.StdoutLines, l => l.StartsWith("READY", StringComparison.Ordinal));
        Assert.Contains(process.StderrLines, l => l.Contains("expected name:partitions", StringComparison.Ordinal));
    }

    /// <summary>A base port such that base..base+count-1 are free now (bound and released to check).</summary>
    private static int FreePortRange(int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            int first;
            using (var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                first = ((IPEndPoint)socket.LocalEndPoint!).Port;
            }

            if (first + count - 1 <= 65535 && Enumerable.Range(first, count).All(IsFree))
            {
                return first;
            }
        }

        throw new InvalidOperationException($"no {count} consecutive free ports found");
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Any, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
