using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Buffer;
using Appliance.Forwarder.Drain;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Ingest;
using Appliance.TestKit;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.IntegrationTests.Forwarder;

/// <summary>One lane of a test configuration: edge topic routed to it and its buffer settings.</summary>
internal sealed record TestLane(string Name, string EdgeTopic, int Weight = 1, string Policy = "Block", long QuotaBytes = 64L << 20);

/// <summary>Writes a forwarder configuration file for a test.</summary>
internal static class TestConfig
{
    public static string Site(string prefix = "site") => KafkaTestHelpers.UniqueName(prefix).ToLowerInvariant();

    public static string Write(TempDirectory dir, string site, IKafkaTestCluster edge, IKafkaTestCluster central, IReadOnlyList<TestLane> lanes,
        string checkpointTopic, Action<JsonObject>? customize = null)
    {
        var routes = new JsonArray();
        foreach (var l in lanes)
        {
            routes.Add(new JsonObject { ["Topics"] = new JsonArray(l.EdgeTopic), ["Lane"] = l.Name });
        }

        var laneArray = new JsonArray();
        foreach (var l in lanes)
        {
            laneArray.Add(new JsonObject { ["Name"] = l.Name, ["Weight"] = l.Weight, ["FullPolicy"] = l.Policy, ["QuotaBytes"] = l.QuotaBytes });
        }

        // The mock answers a fetch only after fetch.wait.max.ms when it has little data (default 500 ms): keep it short.
        var edgeKafka = edge.ForwarderKafkaSection(("fetch.queue.backoff.ms", "10"), ("fetch.wait.max.ms", "20"));
        var centralKafka = central.ForwarderKafkaSection();
        var root = new JsonObject
        {
            ["Logging"] = new JsonObject { ["LogLevel"] = new JsonObject { ["Default"] = "Information" } },
            ["Site"] = new JsonObject { ["Id"] = site },
            ["Buffer"] = new JsonObject
            {
                ["DataDirectory"] = dir.Combine("buffer"),
                ["TotalBudgetBytes"] = lanes.Sum(l => l.QuotaBytes),
                ["SegmentSizeBits"] = 20,
                ["PageSizeBits"] = 18,
                ["MemorySizeBits"] = 20,
                ["Lanes"] = laneArray,
            },
            ["Edge"] = new JsonObject { ["BootstrapServers"] = edge.BootstrapServers, ["GroupId"] = $"fwd-{site}", ["Kafka"] = edgeKafka },
            ["Central"] = new JsonObject
            {
                ["BootstrapServers"] = central.BootstrapServers,
                ["CheckpointTopic"] = checkpointTopic,
                ["Compression"] = "None",
                ["TransactionTimeoutMs"] = 10000,
                ["Kafka"] = centralKafka,
            },
            ["Routes"] = routes,
            ["Uplink"] = new JsonObject { ["BackoffBaseMs"] = 100, ["BackoffMaxMs"] = 1000, ["ProbeTimeoutMs"] = 2000, ["BreakDurationMs"] = 1000 },
            // Operations surface on free loopback ports and a per-test socket, so harnesses can run side by side.
            ["Operations"] = new JsonObject { ["MetricsAddress"] = "127.0.0.1", ["MetricsPort"] = 0, ["StatusAddress"] = "127.0.0.1", ["StatusPort"] = 0, ["AdminSocket"] = dir.Combine("admin.sock") },
        };
        customize?.Invoke(root);
        var path = dir.Combine("forwarder.json");
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}

/// <summary>The real forwarder host, started in the test process from a configuration file.</summary>
internal sealed class InProcessForwarder : IAsyncDisposable
{
    private readonly IHost _host;

    private InProcessForwarder(IHost host) => _host = host;

    public static async Task<InProcessForwarder> StartAsync(string configPath)
    {
        var host = ForwarderHostBuilder.Build(new ForwarderArguments(configPath, null, []));
        await host.StartAsync();
        return new InProcessForwarder(host);
    }

    public DrainService Drain => _host.Services.GetRequiredService<DrainService>();

    public IngestService Ingest => _host.Services.GetRequiredService<IngestService>();

    public DurableBuffer Buffer => _host.Services.GetRequiredService<BufferHost>().Buffer;

    public Exception? Fault => _host.Services.GetRequiredService<ForwarderHealth>().Fault;

    public IServiceProvider Services => _host.Services;

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync(TimeSpan.FromSeconds(30));
        _host.Dispose();
    }
}

/// <summary>A record as read back at central, with its provenance.</summary>
internal sealed record CentralRecord(string Topic, int Partition, long Offset, string? Key, string? Value, string SourceTopic, int SourcePartition, long SourceOffset, string Lane, string Site, long SourceTimestamp, long ReadAtTicks);

/// <summary>
/// Reads central topics continuously (read_committed, no group, every partition from the beginning) so the mock's
/// per-partition retention never drops unread data, and keeps what it read.
/// </summary>
internal sealed class CentralReader : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly ConcurrentQueue<CentralRecord> _records = new();
    private readonly ConcurrentDictionary<(string, int, long), int> _seen = new();
    private readonly ConcurrentDictionary<(string, int), long> _eofAt = new();
    private readonly IKafkaTestCluster _central;
    private readonly IReadOnlyList<(string Topic, int Partitions)> _topics;
    private int _duplicates;

    public CentralReader(IKafkaTestCluster central, IReadOnlyList<(string Topic, int Partitions)> topics)
    {
        _central = central;
        _topics = topics;
        var config = central.ConsumerConfig(KafkaTestHelpers.UniqueName("verify"));
        config.FetchWaitMaxMs = 20;
        config.EnablePartitionEof = true;
        _loop = Task.Run(() => Run(config, topics));
    }

    /// <summary>
    /// Waits until the reader has reached the end of every partition as it is now (call it once nothing writes any
    /// more, e.g. after the forwarder exited): whatever central holds has then been read, extras included.
    /// </summary>
    public async Task WaitForEndAsync(TimeSpan timeout)
    {
        Dictionary<(string, int), long> ends;
        using (var consumer = new ConsumerBuilder<Ignore, Ignore>(_central.ConsumerConfig(KafkaTestHelpers.UniqueName("ends"))).Build())
        {
            ends = _topics.SelectMany(t => Enumerable.Range(0, t.Partitions).Select(p => (t.Topic, p)))
                .ToDictionary(tp => tp, tp => consumer.QueryWatermarkOffsets(new TopicPartition(tp.Topic, tp.p), TimeSpan.FromSeconds(10)).High.Value);
        }

        var sw = Stopwatch.StartNew();
        while (ends.Any(e => !_eofAt.TryGetValue(e.Key, out var at) || at < e.Value))
        {
            if (Error is not null)
            {
                throw new InvalidOperationException("central reader failed", Error);
            }

            if (sw.Elapsed > timeout)
            {
                var behind = ends.Where(e => !_eofAt.TryGetValue(e.Key, out var at) || at < e.Value).Select(e => $"{e.Key.Item1}[{e.Key.Item2}] end {e.Value}");
                throw new TimeoutException($"central reader did not reach the end of {string.Join(", ", behind)} within {timeout}");
            }

            await Task.Delay(20);
        }
    }

    public int Count => _records.Count;

    public int Distinct => _seen.Count;

    public int Duplicates => Volatile.Read(ref _duplicates);

    public IReadOnlyCollection<CentralRecord> Records => _records;

    public Exception? Error { get; private set; }

    public async Task WaitForDistinctAsync(int count, TimeSpan timeout, Func<string>? describe = null)
    {
        var sw = Stopwatch.StartNew();
        while (Distinct < count)
        {
            if (Error is not null)
            {
                throw new InvalidOperationException("central reader failed", Error);
            }

            if (sw.Elapsed > timeout)
            {
                throw new TimeoutException($"central has {Distinct} distinct records ({Count} read) after {timeout}, expected {count}. {describe?.Invoke()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Source positions (edge topic, partition, offset) below <paramref name="edgeEnds"/> that central does not have,
    /// as ranges: tells a lost transaction from a lost partition tail when a test fails.
    /// </summary>
    public string DescribeMissing(IReadOnlyDictionary<(string Topic, int Partition), long> edgeEnds)
    {
        var parts = new List<string>();
        foreach (var ((topic, partition), end) in edgeEnds.OrderBy(e => e.Key))
        {
            long? from = null;
            for (long o = 0; o <= end; o++)
            {
                var have = o == end || _seen.ContainsKey((topic, partition, o));
                if (!have && from is null)
                {
                    from = o;
                }
                else if (have && from is { } f)
                {
                    parts.Add($"{topic}[{partition}] {f}..{o - 1} ({o - f})");
                    from = null;
                }
            }
        }

        return parts.Count == 0 ? "nothing missing" : "missing at central: " + string.Join(", ", parts);
    }

    private void Run(ConsumerConfig config, IReadOnlyList<(string Topic, int Partitions)> topics)
    {
        try
        {
            using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
            consumer.Assign(topics.SelectMany(t => Enumerable.Range(0, t.Partitions).Select(p => new TopicPartitionOffset(t.Topic, p, Offset.Beginning))));
            while (!_stop.IsCancellationRequested)
            {
                var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
                if (r is null)
                {
                    continue;
                }

                if (r.IsPartitionEOF)
                {
                    _eofAt[(r.Topic, r.Partition.Value)] = r.Offset.Value;
                    continue;
                }

                // A record without a readable provenance header gets empty names and -1 positions (the checks fail on them).
                var source = ProvenanceHeaders.TryRead(r.Message.Headers, out var s) ? s : new Provenance("", "", -1, -1, -1, "");
                var rec = new CentralRecord(r.Topic, r.Partition.Value, r.Offset.Value,
                    r.Message.Key is null ? null : Encoding.UTF8.GetString(r.Message.Key),
                    r.Message.Value is null ? null : Encoding.UTF8.GetString(r.Message.Value),
                    source.Topic, source.Partition, source.Offset, source.Lane, source.Site, source.TimestampMs, Stopwatch.GetTimestamp());
                _records.Enqueue(rec);
                if (_seen.AddOrUpdate((rec.SourceTopic, rec.SourcePartition, rec.SourceOffset), 1, (_, n) => n + 1) > 1)
                {
                    Interlocked.Increment(ref _duplicates);
                }
            }

            consumer.Close();
        }
        catch (Exception e)
        {
            Error = e;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>Produces keyed test records at the edge: value "key:seq" with a per-key sequence, so order can be checked.</summary>
internal sealed class EdgeLoad : IDisposable
{
    private readonly IProducer<string, string> _producer;
    private readonly ConcurrentDictionary<string, int> _seq = new();
    private long _produced;
    private long _failed;

    public EdgeLoad(IKafkaTestCluster edge)
    {
        _producer = new ProducerBuilder<string, string>(edge.ProducerConfig()).Build();
    }

    public long Produced => Interlocked.Read(ref _produced);

    public void Produce(string topic, string key, int valuePadding = 0)
    {
        var seq = _seq.AddOrUpdate(key, 0, (_, n) => n + 1);
        var value = valuePadding > 0 ? $"{key}:{seq}:{new string('x', valuePadding)}" : $"{key}:{seq}";
        while (true)
        {
            try
            {
                _producer.Produce(topic, new Message<string, string> { Key = key, Value = value }, r =>
                {
                    if (r.Error.IsError)
                    {
                        Interlocked.Increment(ref _failed);
                    }
                });
                Interlocked.Increment(ref _produced);
                return;
            }
            catch (ProduceException<string, string> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                _producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    public void Flush()
    {
        while (_producer.Flush(TimeSpan.FromSeconds(10)) > 0)
        {
        }

        if (Interlocked.Read(ref _failed) > 0)
        {
            throw new InvalidOperationException($"{_failed} edge records failed to produce");
        }
    }

    public void Dispose() => _producer.Dispose();
}

/// <summary>The edge side of a test.</summary>
internal static class EdgeTopics
{
    /// <summary>
    /// Creates what a forwarder test needs: each lane's edge topic and its central destination (<c>{site}.{topic}</c>)
    /// with <paramref name="partitions"/> partitions, the checkpoint topic and the site's gap topic (one partition each).
    /// </summary>
    public static async Task CreateAsync(IKafkaTestCluster edge, IKafkaTestCluster central, string site, IEnumerable<TestLane> lanes, int partitions, string checkpointTopic)
    {
        foreach (var l in lanes)
        {
            await edge.CreateTopicAsync(l.EdgeTopic, partitions);
            await central.CreateTopicAsync($"{site}.{l.EdgeTopic}", partitions);
        }

        await central.CreateTopicAsync(checkpointTopic, 1);
        await central.CreateTopicAsync($"{site}._gaps", 1);
    }

    /// <summary>The high watermark of every partition of the lanes' edge topics.</summary>
    public static Dictionary<(string, int), long> Ends(IKafkaTestCluster edge, IEnumerable<TestLane> lanes, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(edge.ConsumerConfig(KafkaTestHelpers.UniqueName("ends"))).Build();
        return lanes.SelectMany(l => Enumerable.Range(0, partitions).Select(p => new TopicPartition(l.EdgeTopic, p)))
            .ToDictionary(tp => (tp.Topic, tp.Partition.Value), tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value);
    }
}

/// <summary>Checks what central received against what was produced at the edge.</summary>
internal static class Verify
{
    /// <summary>Per key, the sequence numbers (first occurrence of each source position, in central order) must be 0, 1, 2, ... without gaps.</summary>
    public static List<string> PerKeyOrder(IEnumerable<CentralRecord> records)
    {
        var problems = new List<string>();
        var seen = new HashSet<(string, int, long)>();
        var next = new Dictionary<string, int>();
        foreach (var r in records.OrderBy(r => r.Topic).ThenBy(r => r.Partition).ThenBy(r => r.Offset))
        {
            if (!seen.Add((r.SourceTopic, r.SourcePartition, r.SourceOffset)) || r.Value is null || r.Key is null)
            {
                continue;
            }

            var parts = r.Value.Split(':');
            var seq = int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture);
            var expected = next.GetValueOrDefault(r.Key);
            if (seq != expected && problems.Count < 10)
            {
                problems.Add($"key {r.Key}: got seq {seq}, expected {expected} (central {r.Topic}[{r.Partition}]@{r.Offset})");
            }

            next[r.Key] = seq + 1;
        }

        return problems;
    }
}
