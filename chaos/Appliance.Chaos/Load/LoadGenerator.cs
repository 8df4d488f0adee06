using System.Diagnostics;
using System.Globalization;
using Appliance.Chaos.Verification;
using Confluent.Kafka;

namespace Appliance.Chaos.Load;

/// <summary>One lane's share of the load.</summary>
/// <param name="Lane">Lane name (keys are <c>{lane}-k{i}</c>).</param>
/// <param name="EdgeTopic">Edge topic of that lane.</param>
/// <param name="Keys">Distinct keys.</param>
/// <param name="Share">Relative share of the records.</param>
/// <param name="RecordBytes">Value size in bytes.</param>
public sealed record LaneLoad(string Lane, string EdgeTopic, int Keys, int Share, int RecordBytes);

/// <summary>
/// Produces sequenced, keyed chaos records to the edge with an idempotent producer (acks=all), paced by a record
/// rate and a byte rate. Every delivery report goes to the verifier and the produced log: acknowledged records must
/// reach central; failed ones may.
/// </summary>
public sealed class LoadGenerator : IDisposable
{
    private readonly IProducer<string, byte[]> _producer;
    private readonly IReadOnlyList<LaneLoad> _lanes;
    private readonly DeliveryVerifier _verifier;
    private readonly ProducedLog? _log;
    private readonly TimeProvider _time;
    private readonly long[][] _nextSeq;
    private readonly int[] _laneCursor;
    private readonly Random _random;
    private readonly object _produceLock = new();
    private long _produced;
    private long _acked;
    private long _failed;
    private long _bytes;

    /// <summary>Creates a generator for <paramref name="lanes"/> producing to <paramref name="bootstrapServers"/>.</summary>
    public LoadGenerator(string bootstrapServers, IReadOnlyDictionary<string, string> clientProperties, IReadOnlyList<LaneLoad> lanes,
        DeliveryVerifier verifier, ProducedLog? log, TimeProvider time, int seed)
    {
        ArgumentNullException.ThrowIfNull(clientProperties);
        ArgumentNullException.ThrowIfNull(lanes);
        _lanes = lanes;
        _verifier = verifier;
        _log = log;
        _time = time;
        _random = new Random(seed);
        _nextSeq = [.. lanes.Select(l => new long[l.Keys])];
        _laneCursor = new int[lanes.Count];
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            // 50 ms, not the client's 5 ms: at 2,000 records/s over 24 partitions a 5 ms linger makes batches of one
            // record, and the mock serves one stored batch per partition per fetch, so after a forwarder restart the
            // edge backlog was caught up at barely more than the load's own rate (forwarder-sigkill-32 and
            // disk-full-6 took 47-82 s to drain, 2026-12-01). Devices batching for 50 ms are realistic too.
            LingerMs = 50,
            // Long enough to ride out every edge outage of a scenario: a record only fails when the edge is gone for good.
            MessageTimeoutMs = 600_000,
            QueueBufferingMaxMessages = 200_000,
            QueueBufferingMaxKbytes = 256 * 1024,
            ReconnectBackoffMs = 50,
            ReconnectBackoffMaxMs = 1000,
        };
        foreach (var (k, v) in clientProperties)
        {
            config.Set(k, v);
        }

        _producer = new ProducerBuilder<string, byte[]>(config).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>Records handed to the producer.</summary>
    public long Produced => Interlocked.Read(ref _produced);

    /// <summary>Records the edge acknowledged.</summary>
    public long Acknowledged => Interlocked.Read(ref _acked);

    /// <summary>Records whose produce failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>Value bytes handed to the producer.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Produces at <paramref name="recordsPerSecond"/> (and at most <paramref name="bytesPerSecond"/> value bytes per
    /// second, 0 = no byte limit) until <paramref name="duration"/> has passed, <paramref name="maxBytes"/> were
    /// produced (0 = no limit), or <paramref name="cancellationToken"/> fires.
    /// </summary>
    public async Task RunAsync(double recordsPerSecond, long bytesPerSecond, TimeSpan duration, long maxBytes, CancellationToken cancellationToken)
    {
        var start = Stopwatch.GetTimestamp();
        var startBytes = Bytes;
        long sent = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(start);
            if (elapsed >= duration || (maxBytes > 0 && Bytes - startBytes >= maxBytes))
            {
                return;
            }

            var allowed = (long)(elapsed.TotalSeconds * recordsPerSecond) + 1;
            if (bytesPerSecond > 0)
            {
                allowed = Math.Min(allowed, (long)(elapsed.TotalSeconds * bytesPerSecond / AverageRecordBytes()) + 1);
            }

            if (sent >= allowed)
            {
                await Task.Delay(2, cancellationToken).ConfigureAwait(false);
                continue;
            }

            // Produce the records due, in small bursts so pacing stays smooth.
            var burst = Math.Min(allowed - sent, 2000);
            for (var i = 0; i < burst && !cancellationToken.IsCancellationRequested; i++)
            {
                if (!ProduceOne())
                {
                    await Task.Delay(5, cancellationToken).ConfigureAwait(false);
                    break;
                }

                sent++;
            }
        }
    }

    /// <summary>Waits until every produced record has a delivery report or the timeout passed; returns the records still in flight.</summary>
    public int Flush(TimeSpan timeout) => _producer.Flush(timeout);

    private double AverageRecordBytes()
    {
        var shares = _lanes.Sum(l => l.Share);
        return _lanes.Sum(l => (double)l.RecordBytes * l.Share) / shares;
    }

    /// <summary>Produces the next record of a lane picked by share; false when the local queue is full.</summary>
    private bool ProduceOne()
    {
        // Background load and bursts may produce concurrently; sequence numbers must stay in produce order per key.
        lock (_produceLock)
        {
            return ProduceOneLocked();
        }
    }

    private bool ProduceOneLocked()
    {
        var laneIndex = PickLane();
        var lane = _lanes[laneIndex];
        var keyIndex = _laneCursor[laneIndex];
        var seq = _nextSeq[laneIndex][keyIndex];
        var key = string.Create(CultureInfo.InvariantCulture, $"{lane.Lane}-k{keyIndex}");
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var record = new ChaosRecord(key, seq, now);
        var message = new Message<string, byte[]> { Key = key, Value = record.Encode(lane.RecordBytes), Timestamp = new Timestamp(now, TimestampType.CreateTime) };
        try
        {
            _producer.Produce(lane.EdgeTopic, message, report => OnReport(lane, report, seq, now));
        }
        catch (ProduceException<string, byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
        {
            return false;
        }

        _nextSeq[laneIndex][keyIndex] = seq + 1;
        _laneCursor[laneIndex] = (keyIndex + 1) % lane.Keys;
        Interlocked.Increment(ref _produced);
        Interlocked.Add(ref _bytes, message.Value.Length);
        return true;
    }

    private int PickLane()
    {
        var total = _lanes.Sum(l => l.Share);
        var x = _random.Next(total);
        for (var i = 0; i < _lanes.Count; i++)
        {
            x -= _lanes[i].Share;
            if (x < 0)
            {
                return i;
            }
        }

        return _lanes.Count - 1;
    }

    private void OnReport(LaneLoad lane, DeliveryReport<string, byte[]> report, long seq, long producedAtMs)
    {
        if (report.Error.IsError)
        {
            Interlocked.Increment(ref _failed);
            _verifier.RecordProduceFailed(report.Message.Key, seq);
            _log?.Failed(report.Message.Key, seq);
            return;
        }

        Interlocked.Increment(ref _acked);
        var p = new ProducedRecord(lane.Lane, report.Message.Key, seq, report.Topic, report.Partition.Value, report.Offset.Value, producedAtMs);
        _verifier.RecordProduced(p);
        _log?.Produced(p);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
    }
}
