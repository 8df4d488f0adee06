using Appliance.Chaos.Load;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Chaos.Verification;

/// <summary>
/// Reads single records back from the edge cluster (for <see cref="DeliveryVerifier.EdgeLookup"/>): which chaos
/// record, if any, sits at an edge topic/partition/offset. Results are cached; a position that cannot be read within
/// the timeout (evicted by the mock's retention, broker gone) gives null, which the verifier treats as "not shown".
/// </summary>
public sealed class EdgeRecordLookup : IDisposable
{
    private readonly ConsumerConfig _config;
    private readonly Dictionary<Provenance, (string Key, long Sequence)?> _cache = [];
    private readonly TimeSpan _timeout;
    private IConsumer<byte[]?, byte[]?>? _consumer;

    /// <summary>Prepares a reader on the edge cluster; it connects on the first lookup (most runs need none).</summary>
    public EdgeRecordLookup(string bootstrapServers, IReadOnlyDictionary<string, string> clientProperties, TimeSpan timeout)
    {
        _timeout = timeout;
        // What the forwarder reads (read_committed): the same records at the same offsets.
        var config = KafkaTestHelpers.ConsumerConfig(bootstrapServers, "appliance-chaos-edge-lookup");
        config.AutoOffsetReset = AutoOffsetReset.Error;
        _config = KafkaTestHelpers.WithClientProperties(config, clientProperties);
    }

    /// <summary>The chaos record at <paramref name="position"/>, or null when there is none or it cannot be read.</summary>
    public (string Key, long Sequence)? Lookup(Provenance position)
    {
        if (_cache.TryGetValue(position, out var known))
        {
            return known;
        }

        (string Key, long Sequence)? found = null;
        _consumer ??= new ConsumerBuilder<byte[]?, byte[]?>(_config).SetErrorHandler((_, _) => { }).SetLogHandler((_, _) => { }).Build();
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
    public void Dispose() => _consumer?.Dispose();
}
