using System.Globalization;
using System.Net;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.MockKafka;

/// <summary>Runs the mock cluster (plus forwarders) until stopped; executes control commands.</summary>
internal sealed class MockKafkaServer : IAsyncDisposable
{
    private readonly MockKafkaCluster _cluster;
    private readonly List<TcpForwarder> _forwarders = [];

    private MockKafkaServer(MockKafkaCluster cluster, string bootstrapServers)
    {
        _cluster = cluster;
        BootstrapServers = bootstrapServers;
    }

    public string BootstrapServers { get; private set; }

    public static async Task<MockKafkaServer> StartAsync(MockKafkaSettings settings, TextWriter log)
    {
        var cluster = new MockKafkaCluster(settings.Brokers);
        var server = new MockKafkaServer(cluster, cluster.BootstrapServers);
        try
        {
            var advertised = new List<string>();
            for (var id = 1; id <= settings.Brokers; id++)
            {
                var mockPort = cluster.BrokerPorts[id - 1];
                var port = mockPort;
                if (settings.UsesForwarders)
                {
                    var listenPort = settings.PortBase is { } portBase ? portBase + id - 1 : 0;
                    var forwarder = new TcpForwarder(new IPEndPoint(settings.Bind, listenPort), new IPEndPoint(IPAddress.Loopback, mockPort));
                    server._forwarders.Add(forwarder);
                    port = forwarder.LocalEndPoint.Port;
                }

                if (settings.UsesForwarders || settings.AdvertiseHost != "127.0.0.1")
                {
                    cluster.SetBrokerAdvertisedAddress(id, settings.AdvertiseHost, port);
                }

                advertised.Add(FormattableString.Invariant($"{settings.AdvertiseHost}:{port}"));
                var via = settings.UsesForwarders ? FormattableString.Invariant($" (forwarder on {settings.Bind}:{port})") : string.Empty;
                await log.WriteLineAsync(FormattableString.Invariant(
                    $"appliance-mockkafka: broker {id} mock 127.0.0.1:{mockPort}, advertised {settings.AdvertiseHost}:{port}{via}"));
            }

            server.BootstrapServers = string.Join(',', advertised);
            foreach (var (name, partitions) in settings.Topics)
            {
                cluster.CreateTopic(name, partitions);
            }

            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>Executes one control line; returns the reply line and whether the process should stop.</summary>
    public (string Reply, bool Quit) Execute(string line)
    {
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            return ("error empty command", false);
        }

        try
        {
            switch (parts[0])
            {
                case "down" when parts.Length == 2:
                    _cluster.SetBrokerDown(Broker(parts[1]));
                    return ($"ok down {parts[1]}", false);
                case "up" when parts.Length == 2:
                    _cluster.SetBrokerUp(Broker(parts[1]));
                    return ($"ok up {parts[1]}", false);
                case "rtt" when parts.Length == 3:
                    _cluster.SetRtt(Broker(parts[1]), Int(parts[2]));
                    return ($"ok rtt {parts[1]} {parts[2]}", false);
                case "create-topic" when parts.Length is 3 or 4:
                    _cluster.CreateTopic(parts[1], Int(parts[2]), parts.Length == 4 ? Int(parts[3]) : 1);
                    return ($"ok create-topic {parts[1]} {parts[2]}", false);
                case "errors" when parts.Length >= 3:
                    _cluster.PushRequestErrors(short.Parse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture),
                        [.. parts.Skip(2).Select(p => (ErrorCode)int.Parse(p, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture))]);
                    return ($"ok errors {parts[1]} {parts.Length - 2}", false);
                case "bootstrap" when parts.Length == 1:
                    return ($"ok bootstrap={BootstrapServers}", false);
                case "quit" when parts.Length == 1:
                    return ("ok quit", true);
                default:
                    return ($"error unknown command or wrong arguments: '{line.Trim()}' "
                        + "(down <id|all>, up <id|all>, rtt <id|all> <ms>, create-topic <name> <partitions> [rf], "
                        + "errors <apiKey> <code>..., bootstrap, quit)", false);
            }
        }
        catch (Exception e) when (e is FormatException or OverflowException or ArgumentException or InvalidOperationException)
        {
            return ($"error {e.Message.ReplaceLineEndings(" ")}", false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var forwarder in _forwarders)
        {
            await forwarder.DisposeAsync();
        }

        _cluster.Dispose();
    }

    private static int Broker(string text) =>
        text == "all" ? MockKafkaCluster.AllBrokers : int.Parse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);

    private static int Int(string text) => int.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture);
}
