using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Records;
using Appliance.Forwarder.Drain;
using Appliance.Forwarder.Hosting;
using Appliance.TestKit;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Benchmarks.Forwarder;

/// <summary>
/// Forwarder figures on two in-process mock clusters: steady-state throughput against a plain consume-produce bridge
/// (same client, no buffer, no transactions) side by side, backlog drain rate, critical latency under a backlog, RSS
/// with a backlog, restart-to-draining time. Args: [records100B] [records1KiB] [backlog] (0 skips that part).
/// </summary>
internal sealed class ForwarderBenchmark : IBenchmark
{
    public string Name => "forwarder";

    public string Description => "forwarder vs plain bridge throughput (100 B, 1 KiB), backlog drain, critical latency, RSS, restart-to-draining [n100B=300000] [n1KiB=60000] [backlog=300000] (0 skips a part)";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var n100 = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 300_000;
        var n1k = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 60_000;
        var backlog = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 300_000;
        using var edge = new MockKafkaCluster();
        using var central = new MockKafkaCluster();
        Console.WriteLine("## steady state: pre-loaded edge topic -> central, time from start to the last record acknowledged (exactly once for the forwarder)");
        Console.WriteLine("bridge: consume -> idempotent produce, no buffer; bridge+h: the same, adding the forwarder's six provenance headers (same output as the forwarder)");
        foreach (var (size, count) in new[] { (100, n100), (1024, n1k) }.Where(c => c.Item2 > 0))
        {
            for (var run = 0; run < 2; run++)
            {
                var bridge = await BridgeAsync(edge, central, size, count, provenance: false, cancellationToken);
                var bridgeH = await BridgeAsync(edge, central, size, count, provenance: true, cancellationToken);
                var fwd = await ForwarderSteadyAsync(edge, central, size, count, cancellationToken);
                Console.WriteLine($"value {size,5} B, {count} records, run {run + 1}: bridge {bridge,9:F0} rec/s | bridge+h {bridgeH,9:F0} rec/s | forwarder {fwd,9:F0} rec/s | ratio to bridge {fwd / bridge:F2}, to bridge+h {fwd / bridgeH:F2}");
            }
        }

        if (backlog > 0)
        {
            Console.WriteLine("## backlog: buffered during an outage, then drained; critical records at 200/s during the drain");
            await BacklogAsync(edge, central, backlog, cancellationToken);
        }

        return 0;
    }

    private static string Topic(string prefix) => KafkaTestHelpers.UniqueName(prefix);

    private static int PartitionsFor(int size, int count) => Math.Max(4, (int)Math.Ceiling((double)count * (size + 80) / (3 << 20)));

    private static void Load(MockKafkaCluster edge, string topic, int partitions, int size, int count)
    {
        var config = KafkaTestHelpers.ProducerConfig(edge.BootstrapServers);
        config.LingerMs = 20;
        using var p = new ProducerBuilder<byte[], byte[]>(config).Build();
        var value = new byte[size];
        Random.Shared.NextBytes(value);
        for (var i = 0; i < count; i++)
        {
            // Contiguous per partition (the mock keeps ~5 MiB per partition; spread evenly).
            var key = BitConverter.GetBytes(i);
            while (true)
            {
                try
                {
                    p.Produce(new TopicPartition(topic, i % partitions), new Message<byte[], byte[]> { Key = key, Value = value });
                    break;
                }
                catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                {
                    p.Poll(TimeSpan.FromMilliseconds(5));
                }
            }
        }

        p.Flush(TimeSpan.FromMinutes(2));
    }

    private static async Task<double> BridgeAsync(MockKafkaCluster edge, MockKafkaCluster central, int size, int count, bool provenance, CancellationToken ct)
    {
        var partitions = PartitionsFor(size, count);
        var src = Topic("bridge-src");
        var dst = Topic("bridge-dst");
        edge.CreateTopic(src, partitions);
        central.CreateTopic(dst, partitions);
        Load(edge, src, partitions, size, count);
        return await Task.Run(() =>
        {
            var cc = KafkaTestHelpers.ConsumerConfig(edge.BootstrapServers, Topic("bridge"), IsolationLevel.ReadCommitted);
            var pc = KafkaTestHelpers.ProducerConfig(central.BootstrapServers);
            var site = "bench"u8.ToArray();
            var lane = "bulk"u8.ToArray();
            pc.CompressionType = CompressionType.None;
            pc.BatchSize = 1_000_000;
            pc.DeliveryReportFields = "none";
            pc.QueueBufferingMaxMessages = 2_000_000;
            var sw = Stopwatch.StartNew();
            using var consumer = new ConsumerBuilder<byte[], byte[]>(cc).Build();
            using var producer = new ProducerBuilder<byte[], byte[]>(pc).Build();
            consumer.Assign(Enumerable.Range(0, partitions).Select(p => new TopicPartitionOffset(src, p, Offset.Beginning)));
            var acked = 0L;
            var read = 0;
            while (read < count)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r is null || r.IsPartitionEOF)
                {
                    continue;
                }

                if (read++ == 0)
                {
                    sw.Restart();
                }

                while (true)
                {
                    try
                    {
                        var headers = provenance
                            ? ProvenanceHeaders.Build(new EdgeRecord(new SourcePosition(r.Topic, r.Partition.Value, r.Offset.Value), r.Message.Timestamp.UnixTimestampMs, r.Message.Key, r.Message.Value), site, lane)
                            : r.Message.Headers;
                        producer.Produce(dst, new Message<byte[], byte[]> { Key = r.Message.Key, Value = r.Message.Value, Headers = headers }, d =>
                        {
                            if (!d.Error.IsError)
                            {
                                Interlocked.Increment(ref acked);
                            }
                        });
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(5));
                    }
                }
            }

            producer.Flush(TimeSpan.FromMinutes(2));
            sw.Stop();
            return Interlocked.Read(ref acked) == count ? count / sw.Elapsed.TotalSeconds : double.NaN;
        }, ct);
    }

    private static async Task<double> ForwarderSteadyAsync(MockKafkaCluster edge, MockKafkaCluster central, int size, int count, CancellationToken ct)
    {
        var partitions = PartitionsFor(size, count);
        var site = Topic("bench").ToLowerInvariant();
        var src = Topic("fwd-src");
        edge.CreateTopic(src, partitions);
        central.CreateTopic($"{site}.{src}", partitions);
        var cp = Topic("cp");
        central.CreateTopic(cp, 1);
        central.CreateTopic($"{site}._gaps", 1);
        Load(edge, src, partitions, size, count);
        using var dir = new TempDirectory("fwd-bench");
        var config = WriteConfig(dir, site, edge.BootstrapServers, central.BootstrapServers, cp, [("bulk", src, 1)], 1L << 30);
        var sw = Stopwatch.StartNew();
        using var host = ForwarderHostBuilder.Build(new ForwarderArguments(config, null, []));
        await host.StartAsync(ct);
        var drain = host.Services.GetRequiredService<DrainService>();
        var ingest = host.Services.GetRequiredService<Appliance.Forwarder.Ingest.IngestService>();
        var ingested = TimeSpan.Zero;
        // Steady state: from the moment the drain session is up (first delivery) to the last record; start-up
        // (buffer open, InitTransactions, checkpoint read) is reported separately as restart-to-draining.
        while (drain.RecordsDelivered == 0)
        {
            await Task.Delay(1, ct);
        }

        var startup = sw.Elapsed;
        var first = drain.RecordsDelivered;
        var ingestedAtStart = ingest.RecordsIngested;
        sw.Restart();
        while (drain.RecordsDelivered < count)
        {
            if (ingested == TimeSpan.Zero && ingest.RecordsIngested >= count)
            {
                ingested = sw.Elapsed;
            }

            await Task.Delay(2, ct);
        }

        sw.Stop();
        Console.WriteLine($"    forwarder: start-up to first delivery {startup.TotalSeconds:F2} s (ingested {ingestedAtStart} by then); then all ingested after {ingested.TotalSeconds:F2} s, all delivered after {sw.Elapsed.TotalSeconds:F2} s; {drain.DeliveryTimes.Transactions} transactions, producing {drain.DeliveryTimes.Producing.TotalSeconds:F2} s, committing {drain.DeliveryTimes.Committing.TotalSeconds:F2} s");
        await host.StopAsync(ct);
        return (count - first) / sw.Elapsed.TotalSeconds;
    }

    private static async Task BacklogAsync(MockKafkaCluster edge, MockKafkaCluster central, int count, CancellationToken ct)
    {
        const int size = 100;
        var partitions = PartitionsFor(size, count);
        var site = Topic("bench").ToLowerInvariant();
        var bulk = Topic("bulk");
        var crit = Topic("crit");
        edge.CreateTopic(bulk, partitions);
        edge.CreateTopic(crit, 2);
        central.CreateTopic($"{site}.{bulk}", partitions);
        central.CreateTopic($"{site}.{crit}", 2);
        var cp = Topic("cp");
        central.CreateTopic(cp, 1);
        central.CreateTopic($"{site}._gaps", 1);
        using var dir = new TempDirectory("fwd-bench");
        var config = WriteConfig(dir, site, edge.BootstrapServers, central.BootstrapServers, cp, [("critical", crit, 8), ("bulk", bulk, 1)], 2L << 30);
        central.SetAllBrokersDown();
        var host = ForwarderHostBuilder.Build(new ForwarderArguments(config, null, []));
        await host.StartAsync(ct);
        var sw = Stopwatch.StartNew();
        Load(edge, bulk, partitions, size, count);
        var buffer = host.Services.GetRequiredService<BufferHost>().Buffer;
        while (buffer.Lane("bulk").GetStats().BufferedRecords < count)
        {
            await Task.Delay(10, ct);
        }

        var buffered = sw.Elapsed;
        GC.Collect();
        var rss = Environment.WorkingSet;
        Console.WriteLine($"buffered {count} x {size} B in {buffered.TotalSeconds:F1} s ({count / buffered.TotalSeconds:F0} rec/s incl. edge load); {buffer.Lane("bulk").BufferedBytes / 1e6:F1} MB in the buffer; RSS of the whole process (forwarder + both mocks + data) {rss / 1e6:F0} MB");

        // Restart with the backlog: time from host start to the first delivered record.
        await host.StopAsync(ct);
        host.Dispose();
        central.SetAllBrokersUp();
        sw.Restart();
        host = ForwarderHostBuilder.Build(new ForwarderArguments(config, null, []));
        await host.StartAsync(ct);
        var drain = host.Services.GetRequiredService<DrainService>();
        using var latencies = new LatencyProbe(edge.BootstrapServers, central.BootstrapServers, crit, $"{site}.{crit}");
        while (drain.RecordsDelivered == 0)
        {
            await Task.Delay(1, ct);
        }

        latencies.MeasureFromNow();

        Console.WriteLine($"restart with a {count}-record backlog to first delivery: {sw.Elapsed.TotalMilliseconds:F0} ms");
        while (drain.RecordsDelivered < count)
        {
            await Task.Delay(5, ct);
        }

        var drained = sw.Elapsed;
        var lat = latencies.Stop();
        Console.WriteLine($"backlog drained in {drained.TotalSeconds:F1} s: {count / drained.TotalSeconds:F0} rec/s, {count * (double)size / drained.TotalSeconds / 1e6:F1} MB/s payload; transactions {drain.DeliveryTimes.Transactions}, producing {drain.DeliveryTimes.Producing.TotalSeconds:F1} s, committing {drain.DeliveryTimes.Committing.TotalSeconds:F1} s");
        Console.WriteLine($"critical latency (produce at edge -> read at central) during the drain: n={lat.Count} p50 {Pct(lat, 0.5):F0} ms p99 {Pct(lat, 0.99):F0} ms max {(lat.Count > 0 ? lat[^1] : double.NaN):F0} ms");
        await host.StopAsync(ct);
        host.Dispose();
    }

    private static double Pct(List<double> sorted, double q) => sorted.Count == 0 ? double.NaN : sorted[Math.Min(sorted.Count - 1, (int)(sorted.Count * q))];

    private static string WriteConfig(TempDirectory dir, string site, string edge, string central, string cp, List<(string Lane, string Topic, int Weight)> lanes, long quota)
    {
        var root = new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Warning" } },
            ["Site"] = new JsonObject { ["Id"] = site },
            ["Buffer"] = new JsonObject
            {
                ["DataDirectory"] = dir.Combine("buffer"),
                ["TotalBudgetBytes"] = quota * lanes.Count,
                ["Lanes"] = new JsonArray([.. lanes.Select(l => (JsonNode)new JsonObject { ["Name"] = l.Lane, ["QuotaBytes"] = quota, ["Weight"] = l.Weight })]),
            },
            ["Edge"] = new JsonObject { ["BootstrapServers"] = edge, ["Kafka"] = new JsonObject { ["fetch.queue.backoff.ms"] = "10", ["fetch.wait.max.ms"] = "20" } },
            ["Central"] = new JsonObject { ["BootstrapServers"] = central, ["CheckpointTopic"] = cp, ["Compression"] = "None" },
            ["Routes"] = new JsonArray([.. lanes.Select(l => (JsonNode)new JsonObject { ["Topics"] = new JsonArray(l.Topic), ["Lane"] = l.Lane })]),
            ["Uplink"] = new JsonObject { ["BackoffBaseMs"] = 100, ["BackoffMaxMs"] = 500, ["BreakDurationMs"] = 500 },
        };
        var path = dir.Combine("forwarder.json");
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }

    /// <summary>Produces a critical record every 5 ms (value = produce timestamp) and measures when central has it.</summary>
    private sealed class LatencyProbe : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _producer;
        private readonly Task _consumer;
        private readonly List<double> _latencies = [];
        private long _from = long.MaxValue;

        /// <summary>Only records produced from now on count (earlier ones waited for the restart, not the drain).</summary>
        public void MeasureFromNow() => Volatile.Write(ref _from, Stopwatch.GetTimestamp());

        public LatencyProbe(string edge, string central, string edgeTopic, string centralTopic)
        {
            _producer = Task.Run(async () =>
            {
                using var p = new ProducerBuilder<Null, string>(KafkaTestHelpers.ProducerConfig(edge)).Build();
                while (!_stop.IsCancellationRequested)
                {
                    p.Produce(edgeTopic, new Message<Null, string> { Value = Stopwatch.GetTimestamp().ToString(CultureInfo.InvariantCulture) });
                    try
                    {
                        await Task.Delay(5, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                        break;
                    }
                }

                p.Flush(TimeSpan.FromSeconds(5));
            });
            _consumer = Task.Run(() =>
            {
                var cc = KafkaTestHelpers.ConsumerConfig(central, KafkaTestHelpers.UniqueName("lat"));
                cc.FetchWaitMaxMs = 20;
                using var c = new ConsumerBuilder<Ignore, string>(cc).Build();
                c.Assign([new TopicPartitionOffset(centralTopic, 0, Offset.Beginning), new TopicPartitionOffset(centralTopic, 1, Offset.Beginning)]);
                while (!_stop.IsCancellationRequested)
                {
                    var r = c.Consume(TimeSpan.FromMilliseconds(50));
                    if (r is { IsPartitionEOF: false, Message: not null })
                    {
                        var sent = long.Parse(r.Message.Value, CultureInfo.InvariantCulture);
                        if (sent >= Volatile.Read(ref _from))
                        {
                            lock (_latencies)
                            {
                                _latencies.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                            }
                        }
                    }
                }
            });
        }

        public List<double> Stop()
        {
            _stop.Cancel();
            Task.WaitAll(_producer, _consumer);
            lock (_latencies)
            {
                return [.. _latencies.Order()];
            }
        }

        public void Dispose() => _stop.Dispose();
    }
}
