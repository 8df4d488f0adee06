using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Buffer;
using Appliance.Forwarder.Drain;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Uplink;
using Appliance.TestKit;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Benchmarks.Forwarder;

/// <summary>
/// The "try it locally" demo: two mock clusters (edge and central), a load generator on three lanes, the forwarder
/// with a sample configuration, and a scripted outage (central down for 20 s), printing what is buffered, dropped
/// and delivered, then a verdict. Run: <c>dotnet run -c Release --project tests/Appliance.Benchmarks -- demo</c>.
/// </summary>
internal sealed class ForwarderDemo : IBenchmark
{
    public string Name => "demo";

    public string Description => "forwarder demo: edge + central mock clusters, 3 lanes, 20 s central outage, verdict (about 75 s)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var outage = TimeSpan.FromSeconds(args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20);
        const int partitions = 4;
        var site = "demo-site";
        var lanes = new (string Lane, string Topic, int RatePerSecond, int Padding)[]
        {
            ("critical", "alarms", 200, 60),
            ("normal", "telemetry", 2000, 120),
            ("bulk", "camera-meta", 6000, 300),
        };

        using var edge = new MockKafkaCluster();
        using var central = new MockKafkaCluster(3);
        using var dir = new TempDirectory("appliance-demo");
        foreach (var l in lanes)
        {
            edge.CreateTopic(l.Topic, partitions);
            central.CreateTopic($"{site}.{l.Topic}", partitions);
        }

        central.CreateTopic("_edge-checkpoints", 1);
        central.CreateTopic($"{site}._gaps", 1);
        var configPath = WriteConfig(dir, site, edge.BootstrapServers, central.BootstrapServers, lanes.Select(l => (l.Lane, l.Topic)).ToList());
        Console.WriteLine($"edge cluster    {edge.BootstrapServers} (mock)");
        Console.WriteLine($"central cluster {central.BootstrapServers} (mock, 3 brokers)");
        Console.WriteLine($"configuration   {configPath}");
        Console.WriteLine("lanes: critical (alarms, block, weight 8) | normal (telemetry, block, weight 2) | bulk (camera-meta, drop-oldest, 4 MiB quota, weight 1)");

        using var host = ForwarderHostBuilder.Build(new ForwarderArguments(configPath, null, []));
        await host.StartAsync(cancellationToken);
        var buffer = host.Services.GetRequiredService<BufferHost>().Buffer;
        var drain = host.Services.GetRequiredService<DrainService>();
        var uplink = host.Services.GetRequiredService<UplinkMonitor>();

        using var verifier = new DemoVerifier(central.BootstrapServers, [.. lanes.Select(l => $"{site}.{l.Topic}")], partitions, $"{site}._gaps");
        var produced = new ConcurrentDictionary<string, long>();
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(() => Generate(edge.BootstrapServers, lanes, produced, stopLoad.Token), CancellationToken.None);

        var clock = Stopwatch.StartNew();
        var phase = "online";
        var outageAt = TimeSpan.FromSeconds(10);
        var loadStopsAt = outageAt + outage + TimeSpan.FromSeconds(10);
        while (true)
        {
            await Task.Delay(2000, cancellationToken);
            if (phase == "online" && clock.Elapsed >= outageAt)
            {
                central.SetAllBrokersDown();
                phase = "OUTAGE";
                Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:F0}s] >>> central brokers DOWN for {outage.TotalSeconds:F0} s");
            }
            else if (phase == "OUTAGE" && clock.Elapsed >= outageAt + outage)
            {
                central.SetAllBrokersUp();
                phase = "recovering";
                Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:F0}s] >>> central brokers UP");
            }
            else if (phase == "recovering" && clock.Elapsed >= loadStopsAt)
            {
                await stopLoad.CancelAsync();
                await load;
                phase = "draining";
                Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:F0}s] >>> load generator stopped; waiting for the buffer to drain");
            }

            Console.WriteLine($"[{clock.Elapsed.TotalSeconds,5:F0}s] {phase,-10} uplink {uplink.State,-8} produced {produced.Values.Sum(),7} | "
                + string.Join(" | ", buffer.Lanes.Select(l => { var s = l.GetStats(); return $"{l.Name}: buffered {s.BufferedRecords,6} dropped {s.DroppedRecords.Values.Sum(),6}"; }))
                + $" | delivered {drain.RecordsDelivered,7}");
            if (phase == "draining" && buffer.Lanes.All(l => l.GetStats().BufferedRecords == 0))
            {
                break;
            }

            if (clock.Elapsed > loadStopsAt + TimeSpan.FromSeconds(60))
            {
                Console.WriteLine("buffer did not drain within 60 s after the load stopped");
                break;
            }
        }

        await Task.Delay(1500, cancellationToken);
        var dropped = buffer.Lanes.ToDictionary(l => l.Name, l => l.GetStats().DroppedRecords.Values.Sum());
        await host.StopAsync(cancellationToken);
        var result = verifier.Finish();
        var ok = true;
        foreach (var l in lanes)
        {
            var want = produced.GetValueOrDefault(l.Topic) - dropped[l.Lane];
            var got = result.Distinct.GetValueOrDefault($"{site}.{l.Topic}");
            Console.WriteLine($"{l.Lane,-8}: produced {produced.GetValueOrDefault(l.Topic),7}, dropped {dropped[l.Lane],6} (by policy, reported in gap markers), delivered {got,7} distinct, expected {want,7}");
            ok &= got == want;
        }

        Console.WriteLine($"duplicates at central (read_committed): {result.Duplicates}; gap markers: {result.GapMarkers} naming {result.GapRecords} dropped records (buffer counted {dropped.Values.Sum()})");
        ok &= result.Duplicates == 0 && result.GapRecords == dropped.Values.Sum();
        Console.WriteLine($"VERDICT: delivered exactly once: {(ok ? "yes" : "no")}");
        return ok ? 0 : 1;
    }

    private static string WriteConfig(TempDirectory dir, string site, string edge, string central, List<(string Lane, string Topic)> lanes)
    {
        var root = new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning", ["Appliance.Buffer"] = "Error", ["Appliance.Forwarder.Drain"] = "Error", ["Appliance.Forwarder.Uplink"] = "Information" } },
            ["Site"] = new JsonObject { ["Id"] = site },
            ["Buffer"] = new JsonObject
            {
                ["DataDirectory"] = dir.Combine("buffer"),
                ["TotalBudgetBytes"] = 96L << 20,
                ["SegmentSizeBits"] = 20,
                ["PageSizeBits"] = 18,
                ["MemorySizeBits"] = 20,
                ["Lanes"] = new JsonArray(
                    new JsonObject { ["Name"] = "critical", ["QuotaBytes"] = 32L << 20, ["Weight"] = 8 },
                    new JsonObject { ["Name"] = "normal", ["QuotaBytes"] = 48L << 20, ["Weight"] = 2 },
                    new JsonObject { ["Name"] = "bulk", ["QuotaBytes"] = 4L << 20, ["Weight"] = 1, ["FullPolicy"] = "DropOldest" }),
            },
            ["Edge"] = new JsonObject { ["BootstrapServers"] = edge, ["Kafka"] = new JsonObject { ["fetch.queue.backoff.ms"] = "10" } },
            ["Central"] = new JsonObject { ["BootstrapServers"] = central, ["Compression"] = "Lz4", ["TransactionTimeoutMs"] = 5000 },
            ["Routes"] = new JsonArray([.. lanes.Select(l => (JsonNode)new JsonObject { ["Topics"] = new JsonArray(l.Topic), ["Lane"] = l.Lane })]),
            ["Uplink"] = new JsonObject { ["BackoffMaxMs"] = 2000, ["ProbeTimeoutMs"] = 2000, ["BreakDurationMs"] = 2000 },
        };
        var path = dir.Combine("forwarder.json");
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    private static async Task Generate(string bootstrap, (string Lane, string Topic, int RatePerSecond, int Padding)[] lanes, ConcurrentDictionary<string, long> produced, CancellationToken ct)
    {
        using var producer = new ProducerBuilder<string, string>(KafkaTestHelpers.ProducerConfig(bootstrap)).SetLogHandler((_, _) => { }).Build();
        var tick = TimeSpan.FromMilliseconds(50);
        var n = 0L;
        while (!ct.IsCancellationRequested)
        {
            foreach (var l in lanes)
            {
                for (var i = 0; i < l.RatePerSecond / 20; i++)
                {
                    var seq = produced.AddOrUpdate(l.Topic, 1, (_, v) => v + 1);
                    producer.Produce(l.Topic, new Message<string, string> { Key = $"dev-{n++ % 64}", Value = $"{{\"seq\":{seq},\"pad\":\"{new string('x', l.Padding)}\"}}" });
                }
            }

            try
            {
                await Task.Delay(tick, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }

        producer.Flush(TimeSpan.FromSeconds(30));
    }

    /// <summary>Reads central continuously (read_committed) and counts distinct source positions and gap markers.</summary>
    private sealed class DemoVerifier : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly Dictionary<string, HashSet<(string?, int, long)>> _seen = [];
        private long _duplicates;
        private long _gapMarkers;
        private long _gapRecords;

        public DemoVerifier(string bootstrap, string[] topics, int partitions, string gapTopic)
        {
            foreach (var t in topics)
            {
                _seen[t] = [];
            }

            var config = KafkaTestHelpers.ConsumerConfig(bootstrap, KafkaTestHelpers.UniqueName("demo-verify"));
            _loop = Task.Run(() =>
            {
                using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, _) => { }).SetErrorHandler((_, _) => { }).Build();
                consumer.Assign([.. topics.SelectMany(t => Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(t, p, Offset.Beginning))), new TopicPartitionOffset(gapTopic, 0, Offset.Beginning)]);
                while (!_stop.IsCancellationRequested)
                {
                    var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                    if (r is null || r.IsPartitionEOF)
                    {
                        continue;
                    }

                    if (r.Topic == gapTopic)
                    {
                        using var doc = JsonDocument.Parse(r.Message.Value);
                        _gapMarkers++;
                        _gapRecords += doc.RootElement.GetProperty("count").GetInt64();
                        continue;
                    }

                    ProvenanceHeaders.TryRead(r.Message.Headers, out var source);
                    if (!_seen[r.Topic].Add((source.Topic, source.Partition, source.Offset)))
                    {
                        _duplicates++;
                    }
                }

                consumer.Close();
            });
        }

        public (Dictionary<string, long> Distinct, long Duplicates, long GapMarkers, long GapRecords) Finish()
        {
            Thread.Sleep(2000);
            _stop.Cancel();
            _loop.GetAwaiter().GetResult();
            return (_seen.ToDictionary(kv => kv.Key, kv => (long)kv.Value.Count), _duplicates, _gapMarkers, _gapRecords);
        }

        public void Dispose() => _stop.Dispose();
    }
}
