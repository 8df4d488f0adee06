using System.Net;
using System.Net.Sockets;
using Appliance.Chaos.Faults;

namespace Appliance.Chaos.Tests.Faults;

/// <summary>Needs root and nft: the rules really change what a loopback connect does, and nothing stays behind.</summary>
[Trait("Category", "Chaos")]
public sealed class NetworkFaultsTests
{
    private static (TcpListener Listener, int Port) Listen()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return (l, ((IPEndPoint)l.LocalEndpoint).Port);
    }

    private static async Task<string> ConnectAsync(int port, TimeSpan timeout)
    {
        using var client = new TcpClient();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return "connected";
        }
        catch (OperationCanceledException)
        {
            return "timeout";
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return "refused";
        }
    }

    [Fact]
    public async Task Partition_ResetThenBlackholeThenHeal_ConnectRefusedHangsAndWorks()
    {
        Assert.True(NetworkFaults.IsAvailable(), "needs root and nftables (apt-get install nftables)");
        var (listener, port) = Listen();
        try
        {
            using var net = new NetworkFaults([port], ownerUid: null);
            Assert.Equal("connected", await ConnectAsync(port, TimeSpan.FromSeconds(5)));

            net.Partition(PartitionKind.Reset);
            Assert.Equal("refused", await ConnectAsync(port, TimeSpan.FromSeconds(5)));

            net.Partition(PartitionKind.Blackhole);
            Assert.Equal("timeout", await ConnectAsync(port, TimeSpan.FromSeconds(1)));
            Assert.Contains($"tcp dport {port} drop", NetworkFaults.List(), StringComparison.Ordinal);

            net.Heal();
            Assert.Equal("connected", await ConnectAsync(port, TimeSpan.FromSeconds(5)));
        }
        finally
        {
            listener.Stop();
        }

        Assert.Equal("", NetworkFaults.List());
    }

    [Fact]
    public void PartitionRule_WithOwner_MatchesOnlyThatUsersSocketsToTheBrokerPorts()
    {
        Assert.True(NetworkFaults.IsAvailable(), "needs root and nftables (apt-get install nftables)");
        using var net = new NetworkFaults([30001, 30002], ownerUid: 65534);

        Assert.Equal("meta skuid 65534 ip daddr 127.0.0.0/8 tcp dport { 30001, 30002 } drop", net.PartitionRule(PartitionKind.Blackhole));
        Assert.Equal("meta skuid 65534 ip daddr 127.0.0.0/8 tcp dport { 30001, 30002 } reject with tcp reset", net.PartitionRule(PartitionKind.Reset));
    }

    [Fact]
    public void Cleanup_LeftoverTableWithRules_RemovesIt()
    {
        Assert.True(NetworkFaults.IsAvailable(), "needs root and nftables (apt-get install nftables)");
        var net = new NetworkFaults([30003], ownerUid: null);
        net.Partition(PartitionKind.Blackhole);
        // Not disposed: as if the runner had crashed.

        var removed = Leftovers.Cleanup();

        Assert.Contains($"nftables table inet {NetworkFaults.Table}", removed);
        Assert.Equal("", NetworkFaults.List());
    }
}
