using System.Globalization;
using System.Text;
using Appliance.Chaos.Load;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Chaos.Verification;

/// <summary>
/// Reads central continuously with <c>isolation.level=read_committed</c> from the beginning of every partition of the
/// destination topics and the gap topic, feeding a <see cref="DeliveryVerifier"/>. The arrival time of a record is
/// when this reader first saw it (an upper bound of its append time). Reading while the run goes on also keeps the
/// mock's small per-partition retention from evicting records before they are checked; if it does evict some (the
/// reader fell behind), the verification is marked invalid instead of reporting false losses.
/// </summary>
public sealed class CentralReader : IAsyncDisposable
{
    private readonly DeliveryVerifier _verifier;
    private readonly TimeProvider _time;
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly string _gapTopic;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _foreign;
    private long _copies;

    /// <summary>Starts reading <paramref name="topics"/> (name and partition count) and <paramref name="gapTopic"/> (one partition or more).</summary>
    public CentralReader(string bootstrapServers, IReadOnlyDictionary<string, string> clientProperties, IReadOnlyList<(string Topic, int Partitions)> topics,
        string gapTopic, int gapPartitions, DeliveryVerifier verifier, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(clientProperties);
        ArgumentNullException.ThrowIfNull(topics);
        _verifier = verifier;
        _time = time;
        _gapTopic = gapTopic;
        var config = KafkaTestHelpers.ConsumerConfig(bootstrapServers, "appliance-chaos-verifier");
        // An eviction by the mock's retention must be seen, not silently skipped.
        config.AutoOffsetReset = AutoOffsetReset.Error;
        config.ReconnectBackoffMs = 50;
        config.ReconnectBackoffMaxMs = 500;
        config.TopicMetadataRefreshIntervalMs = 2000;

        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaTestHelpers.WithClientProperties(config, clientProperties))
            .SetErrorHandler((_, _) => { })
            .SetLogHandler((_, _) => { })
            .Build();
        var assignment = topics.SelectMany(t => Enumerable.Range(0, t.Partitions).Select(p => new TopicPartitionOffset(t.Topic, p, Offset.Beginning)))
            .Concat(Enumerable.Range(0, gapPartitions).Select(p => new TopicPartitionOffset(gapTopic, p, Offset.Beginning)))
            .ToList();
        _consumer.Assign(assignment);
        _loop = Task.Factory.StartNew(Loop, TaskCreationOptions.LongRunning);
    }

    /// <summary>Non-chaos records read from destination topics (should be 0).</summary>
    public long ForeignRecords => Interlocked.Read(ref _foreign);

    /// <summary>Copies of chaos records read so far.</summary>
    public long Copies => Interlocked.Read(ref _copies);

    private void Loop()
    {
        while (!_stop.IsCancellationRequested)
        {
            ConsumeResult<byte[]?, byte[]?>? r;
            try
            {
                r = _consumer.Consume(100);
            }
            catch (ConsumeException e) when (e.Error.Code is ErrorCode.Local_AutoOffsetReset or ErrorCode.OffsetOutOfRange)
            {
                _verifier.MarkInvalid($"central evicted records before the verifier read them ({e.ConsumerRecord?.TopicPartition}: {e.Error.Reason}); the mock keeps about 5 MiB per partition");
                continue;
            }
            catch (ConsumeException)
            {
                continue;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            if (r is null || r.IsPartitionEOF || r.Message is null)
            {
                continue;
            }

            var arrived = _time.GetUtcNow().ToUnixTimeMilliseconds();
            if (r.Topic == _gapTopic)
            {
                string? error = "empty value";
                if (r.Message.Value is { } gv && GapMarkerParser.TryParse(gv, out error) is { } gap)
                {
                    _verifier.RecordGap(gap);
                }
                else
                {
                    _verifier.MarkInvalid($"unreadable gap marker at {r.TopicPartitionOffset}: {error}");
                }

                continue;
            }

            if (r.Message.Value is not { } value || !ChaosRecord.TryParse(value, out var rec))
            {
                Interlocked.Increment(ref _foreign);
                continue;
            }

            Interlocked.Increment(ref _copies);
            _verifier.RecordDelivered(new DeliveredRecord(r.Topic, r.Partition.Value, r.Offset.Value, rec.Key, rec.Sequence, rec.ProducedAtMs, arrived,
                ReadProvenance(r.Message.Headers)));
        }
    }

    /// <summary>Reads the forwarder's provenance header (<c>edge.provenance</c>: source topic, partition, offset); null if it is missing or malformed.</summary>
    public static Provenance? ReadProvenance(Headers? headers) =>
        Appliance.Forwarder.Drain.ProvenanceHeaders.TryRead(headers, out var p) ? new Provenance(p.Topic, p.Partition, p.Offset) : null;

    /// <summary>
    /// Waits until no new record has been read for <paramref name="quiet"/> (central has settled: stray second copies
    /// had their chance to arrive), or <paramref name="timeout"/> passed; returns true when it settled.
    /// </summary>
    public async Task<bool> WaitQuietAsync(TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        var last = Copies;
        var lastChange = DateTime.UtcNow;
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(100, cancellationToken);
            var now = Copies;
            if (now != last)
            {
                last = now;
                lastChange = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - lastChange >= quiet)
            {
                return true;
            }
        }

        return false;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _consumer.Close();
        _consumer.Dispose();
        _stop.Dispose();
    }
}
