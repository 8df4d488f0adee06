using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Chaos.Faults;
using Appliance.Chaos.Load;
using Appliance.TestKit;

namespace Appliance.Chaos.Running;

/// <summary>Settings of one environment (clusters, forwarder, topics) for one scenario.</summary>
public sealed class EnvironmentSettings
{
    /// <summary>Site id of the forwarder.</summary>
    public required string Site { get; init; }

    /// <summary>Lanes, highest priority first.</summary>
    public required IReadOnlyList<LaneSetup> Lanes { get; init; }

    /// <summary>Partitions of every edge and destination topic.</summary>
    public int Partitions { get; init; } = 8;

    /// <summary><c>ExactlyOnce</c> or <c>AtLeastOnce</c> (forwarder <c>Central:Delivery</c>).</summary>
    public string Delivery { get; init; } = "ExactlyOnce";

    /// <summary>Put the buffer on a size-limited loop-mounted filesystem of this many MiB (null = a plain directory).</summary>
    public int? LoopDiskMiB { get; init; }

    /// <summary>Buffer total budget in bytes.</summary>
    public long BufferBudgetBytes { get; init; } = 512L << 20;

    /// <summary>Run directory (logs, configuration, produced log).</summary>
    public required string RunDirectory { get; init; }

    /// <summary>Uid the forwarder runs as (so network rules hit only it), or null for the current user.</summary>
    public int? ForwarderUid { get; init; }

    /// <summary>Path of appliance-forwarder.dll.</summary>
    public required string ForwarderDll { get; init; }
}

/// <summary>One lane: its buffer settings and its edge topic.</summary>
/// <param name="Name">Lane name.</param>
/// <param name="EdgeTopic">Edge topic routed to it.</param>
/// <param name="Weight">Drain weight.</param>
/// <param name="Policy">Full policy (<c>Block</c>, <c>DropOldest</c>, <c>DropNewest</c>).</param>
/// <param name="QuotaBytes">Lane quota.</param>
public sealed record LaneSetup(string Name, string EdgeTopic, int Weight, string Policy, long QuotaBytes);

/// <summary>
/// Edge and central clusters, the forwarder process, and the fault drivers of one scenario. By default both clusters
/// are appliance-mockkafka processes (central with 3 brokers on fixed loopback ports so nftables rules can name them);
/// with <c>APPLIANCE_TEST_EDGE_BOOTSTRAP</c>/<c>APPLIANCE_TEST_CENTRAL_BOOTSTRAP</c> real clusters are used and
/// mock-only faults are unavailable. Dispose stops and removes everything it created.
/// </summary>
public sealed class ChaosEnvironment : IAsyncDisposable
{
    private readonly List<string> _pidFiles = [];

    private ChaosEnvironment(EnvironmentSettings settings, IKafkaTestCluster edge, IKafkaTestCluster central, IReadOnlyList<int> centralPorts)
    {
        Settings = settings;
        Edge = edge;
        Central = central;
        CentralPorts = centralPorts;
    }

    /// <summary>The settings.</summary>
    public EnvironmentSettings Settings { get; }

    /// <summary>The edge cluster.</summary>
    public IKafkaTestCluster Edge { get; }

    /// <summary>The central cluster.</summary>
    public IKafkaTestCluster Central { get; }

    /// <summary>Loopback ports of the central brokers (what network faults target).</summary>
    public IReadOnlyList<int> CentralPorts { get; }

    /// <summary>The forwarder.</summary>
    public ForwarderProcess Forwarder { get; private set; } = null!;

    /// <summary>Network fault driver, or null when nftables is unavailable.</summary>
    public NetworkFaults? Network { get; private set; }

    /// <summary>The buffer's filesystem when it is a loop disk.</summary>
    public LoopDisk? Disk { get; private set; }

    /// <summary>Buffer directory.</summary>
    public string BufferDirectory { get; private set; } = "";

    /// <summary>Central gap topic.</summary>
    public string GapTopic => $"{Settings.Site}._gaps";

    /// <summary>Central checkpoint topic.</summary>
    public string CheckpointTopic => $"{Settings.Site}._checkpoints";

    /// <summary>Destination topic of a lane.</summary>
    public string Destination(LaneSetup lane) => $"{Settings.Site}.{lane.EdgeTopic}";

    /// <summary>True when both clusters are mocks (faults on brokers possible, read_committed not isolating).</summary>
    public bool IsMock => Edge.SupportsFaultInjection && Central.SupportsFaultInjection;

    /// <summary>Starts clusters, creates topics, prepares the buffer location and network faults, writes the configuration and starts the forwarder.</summary>
    public static async Task<ChaosEnvironment> StartAsync(EnvironmentSettings settings, bool wantNetworkFaults, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(settings);
        Directory.CreateDirectory(settings.RunDirectory);
        var edgeTopics = settings.Lanes.Select(l => (l.EdgeTopic, settings.Partitions)).ToList();
        IKafkaTestCluster edge, central;
        IReadOnlyList<int> ports;
        if (KafkaTestClusters.IsReal(KafkaClusterRole.Edge))
        {
            edge = KafkaTestClusters.Edge();
        }
        else
        {
            var o = new MockKafkaProcessOptions { Brokers = 1 };
            foreach (var t in edgeTopics)
            {
                o.Topics.Add(t);
            }

            edge = await MockKafkaProcess.StartAsync(o, cancellationToken);
        }

        try
        {
            if (KafkaTestClusters.IsReal(KafkaClusterRole.Central))
            {
                central = KafkaTestClusters.Central();
                ports = ParsePorts(central.BootstrapServers);
            }
            else
            {
                (central, ports) = await StartCentralMockAsync(cancellationToken);
            }
        }
        catch
        {
            await edge.DisposeAsync();
            throw;
        }

        var env = new ChaosEnvironment(settings, edge, central, ports);
        try
        {
            env.TrackPid(edge, "appliance-mockkafka.dll");
            env.TrackPid(central, "appliance-mockkafka.dll");
            if (!edge.SupportsFaultInjection)
            {
                foreach (var (t, p) in edgeTopics)
                {
                    await edge.CreateTopicAsync(t, p, cancellationToken: cancellationToken);
                }
            }

            foreach (var l in settings.Lanes)
            {
                await central.CreateTopicAsync(env.Destination(l), settings.Partitions, cancellationToken: cancellationToken);
            }

            await central.CreateTopicAsync(env.CheckpointTopic, 1, cancellationToken: cancellationToken);
            await central.CreateTopicAsync(env.GapTopic, 1, cancellationToken: cancellationToken);

            if (settings.LoopDiskMiB is { } mib)
            {
                env.Disk = LoopDisk.Create(Path.GetFileName(settings.RunDirectory), mib, settings.ForwarderUid);
                env.BufferDirectory = Path.Combine(env.Disk.MountPoint, "buffer");
            }
            else
            {
                var stateDir = Path.Combine(ChaosPaths.StateRoot, "buffers", Path.GetFileName(settings.RunDirectory));
                Directory.CreateDirectory(stateDir);
                if (settings.ForwarderUid is { } uid)
                {
                    Shell.Check("chown", [$"{uid}:{uid}", stateDir]);
                }

                env.BufferDirectory = Path.Combine(stateDir, "buffer");
            }

            if (wantNetworkFaults && NetworkFaults.IsAvailable())
            {
                env.Network = new NetworkFaults(ports, settings.ForwarderUid);
            }

            var config = Path.Combine(settings.RunDirectory, "forwarder.json");
            await File.WriteAllTextAsync(config, env.ForwarderConfiguration().ToJsonString(new JsonSerializerOptions { WriteIndented = true }), cancellationToken);
            if (settings.ForwarderUid is { } u)
            {
                Shell.Check("chown", [$"{u}:{u}", config]);
            }

            env.Forwarder = new ForwarderProcess(settings.ForwarderDll, config, Path.Combine(settings.RunDirectory, "forwarder.log"), settings.ForwarderUid);
            env.Forwarder.Start();
            return env;
        }
        catch
        {
            await env.DisposeAsync();
            throw;
        }
    }

    /// <summary>The forwarder configuration this environment runs with (docs/forwarder.md keys).</summary>
    public JsonObject ForwarderConfiguration()
    {
        var lanes = new JsonArray();
        var routes = new JsonArray();
        foreach (var l in Settings.Lanes)
        {
            lanes.Add(new JsonObject { ["Name"] = l.Name, ["Weight"] = l.Weight, ["FullPolicy"] = l.Policy, ["QuotaBytes"] = l.QuotaBytes });
            routes.Add(new JsonObject { ["Topics"] = new JsonArray(l.EdgeTopic), ["Lane"] = l.Name });
        }

        var edgeKafka = Edge.ForwarderKafkaSection(("fetch.queue.backoff.ms", "10"));
        var centralKafka = Central.ForwarderKafkaSection();
        return new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Information", ["Microsoft"] = "Warning" } },
            ["Site"] = new JsonObject { ["Id"] = Settings.Site },
            ["Buffer"] = new JsonObject
            {
                ["DataDirectory"] = BufferDirectory,
                ["TotalBudgetBytes"] = Settings.BufferBudgetBytes,
                ["SegmentSizeBits"] = 20,
                ["PageSizeBits"] = 18,
                ["MemorySizeBits"] = 20,
                ["Lanes"] = lanes,
            },
            ["Edge"] = new JsonObject { ["BootstrapServers"] = Edge.BootstrapServers, ["GroupId"] = $"fwd-{Settings.Site}", ["Kafka"] = edgeKafka },
            ["Central"] = new JsonObject
            {
                ["BootstrapServers"] = Central.BootstrapServers,
                ["Delivery"] = Settings.Delivery,
                ["CheckpointTopic"] = CheckpointTopic,
                ["GapTopic"] = "{site}._gaps",
                ["CreateTopics"] = false,
                ["Compression"] = "None",
                ["TransactionTimeoutMs"] = 10000,
                ["Kafka"] = centralKafka,
            },
            ["Routes"] = routes,
            ["Uplink"] = new JsonObject { ["BackoffBaseMs"] = 100, ["BackoffMaxMs"] = 1000, ["ProbeTimeoutMs"] = 2000, ["BreakDurationMs"] = 1000 },
            // The forwarder runs as an unprivileged user here: its admin socket goes next to its buffer (a directory it
            // owns) instead of /run/appliance, and the HTTP listeners take free ports so runs never collide.
            ["Operations"] = new JsonObject
            {
                ["AdminSocket"] = Path.Combine(Path.GetDirectoryName(BufferDirectory)!, "admin.sock"),
                ["MetricsAddress"] = "127.0.0.1",
                ["MetricsPort"] = 0,
                ["StatusAddress"] = "127.0.0.1",
                ["StatusPort"] = 0,
            },
        };
    }

    /// <summary>Bytes under the buffer directory (the backlog on disk).</summary>
    public long BufferBytes()
    {
        try
        {
            return Directory.Exists(BufferDirectory)
                ? new DirectoryInfo(BufferDirectory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
                : 0;
        }
        catch (IOException)
        {
            return 0;
        }
        catch (UnauthorizedAccessException)
        {
            return 0;
        }
    }

    /// <summary>Undoes every fault: network rules, broker state, latency, disk filler; starts the forwarder if it is down.</summary>
    public async Task HealAllAsync(CancellationToken cancellationToken)
    {
        Network?.Heal();
        if (Central.SupportsFaultInjection)
        {
            await Central.SetAllBrokersUpAsync(cancellationToken);
            await Central.SetRttAsync(-1, 0, cancellationToken);
        }

        if (Edge.SupportsFaultInjection)
        {
            await Edge.SetAllBrokersUpAsync(cancellationToken);
            await Edge.SetRttAsync(-1, 0, cancellationToken);
        }

        Disk?.Free();
        if (!Forwarder.IsRunning)
        {
            Forwarder.Start();
        }
    }

    private void TrackPid(IKafkaTestCluster cluster, string fragment)
    {
        if (cluster is MockKafkaProcess m)
        {
            Directory.CreateDirectory(ChaosPaths.PidDirectory);
            var file = Path.Combine(ChaosPaths.PidDirectory, $"mock-{m.Process.Id}.pid");
            File.WriteAllText(file, $"{m.Process.Id}\n{fragment}\n");
            _pidFiles.Add(file);
        }
    }

    private static async Task<(IKafkaTestCluster Cluster, IReadOnlyList<int> Ports)> StartCentralMockAsync(CancellationToken cancellationToken)
    {
        const int brokers = 3;
        Exception? last = null;
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var basePort = FreePortBase(brokers);
            try
            {
                var mock = await MockKafkaProcess.StartAsync(new MockKafkaProcessOptions { Brokers = brokers, PortBase = basePort }, cancellationToken);
                return (mock, [.. Enumerable.Range(basePort, brokers)]);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                // The port was taken between the probe and the bind; try another range.
                last = e;
            }
        }

        throw new InvalidOperationException("could not start the central mock on fixed ports", last);
    }

    /// <summary>A base port P such that P..P+count-1 are free on 127.0.0.1 right now.</summary>
    public static int FreePortBase(int count)
    {
        for (var i = 0; i < 200; i++)
        {
            var basePort = Random.Shared.Next(20000, 40000);
            var free = true;
            for (var p = basePort; p < basePort + count && free; p++)
            {
                try
                {
                    using var l = new TcpListener(IPAddress.Loopback, p);
                    l.Start();
                    l.Stop();
                }
                catch (SocketException)
                {
                    free = false;
                }
            }

            if (free)
            {
                return basePort;
            }
        }

        throw new InvalidOperationException("no free port range on 127.0.0.1");
    }

    /// <summary>Ports of a bootstrap list <c>host:port,...</c>.</summary>
    public static IReadOnlyList<int> ParsePorts(string bootstrap) =>
        [.. bootstrap.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s[(s.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture))];

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Forwarder is not null)
        {
            await Forwarder.DisposeAsync();
        }

        Network?.Dispose();
        Disk?.Dispose();
        await Central.DisposeAsync();
        await Edge.DisposeAsync();
        foreach (var f in _pidFiles)
        {
            try
            {
                File.Delete(f);
            }
            catch (IOException)
            {
            }
        }

        if (Disk is null && BufferDirectory.Length > 0)
        {
            try
            {
                Directory.Delete(Path.GetDirectoryName(BufferDirectory)!, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
