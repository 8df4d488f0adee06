using Appliance.Chaos.Load;
using Confluent.Kafka;

namespace Appliance.Chaos.Verification;

/// <summary>
/// Reads single records back from the edge cluster (for <see cref="DeliveryVerifier.EdgeLookup"/>): which chaos
/// record, if any, sits at an edge topic/partition/offset. Results are cached; a position that cannot be read within
/// the timeout (evicted by the mock's retention, broker gone) gives null, which the verifier treats as "not shown".
/// </summary>
public sealed class EdgeRecordLookup : IDisposable
{
    private readonly IConsumer<byte[]?, byte[]?> _consumer;
    private readonly Dictionary<Provenance, (string Key, long Sequence)?> _cache = [];
    private readonly TimeSpan _timeout;

    /// <summary>Creates a reader on the edge cluster.</summary>
    public EdgeRecordLookup(string bootstrapServers, IReadOnlyDictionary<string, string> clientProperties, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(clientProperties);
        _timeout = timeout;
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            GroupId = "appliance-chaos-edge-lookup",
            EnableAutoCommit = false,
            // What the forwarder reads (read_committed): the same records at the same offsets.
            IsolationLevel = IsolationLevel.ReadCommitted,
            AutoOffsetReset = AutoOffsetReset.Error,
            FetchQueueBackoffMs = 10,
            AllowAutoCreateTopics = false,
        };
        foreach (var (k, v) in clientProperties)
        {
            config.Set(k, v);
        }

        _consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
    }

    /// <summary>The chaos record at <paramref name="position"/>, or null when there is none or it cannot be read.</summary>
    public (string Key, long Sequence)? Lookup(Provenance position)
    {
        if (_cache.TryGetValue(position, out var known))
        {
            return known;
        }

        (string Key, long Sequence)? found = null;
        try
        {
            _consumer.Assign(new TopicPartitionOffset(position.Topic, position.Partition, position.Offset));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.Elapsed < _timeout)
            {
                var r = _consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null || r.IsPartitionEOF)
                {
                    continue;
                }

                if (r.Offset.Value == position.Offset && r.Message.Value is { } v && ChaosRecord.TryParse(v, out var rec))
                {
                    found = (rec.Key, rec.Sequence);
                }

                break;
            }
        }
        catch (KafkaException)
        {
            // Evicted (offset out of range) or unreachable: not shown.
        }
        finally
        {
            _consumer.Unassign();
        }

        _cache[position] = found;
        return found;
    }

    /// <inheritdoc />
    public void Dispose() => _consumer.Dispose();
}
