using Confluent.Kafka;

namespace Appliance.Forwarder.Options;

/// <summary>Builds librdkafka client configurations from the options, and redacts secrets for logs.</summary>
public static class KafkaSettings
{
    /// <summary>The value shown instead of a secret.</summary>
    public const string Redacted = "***";

    /// <summary>True when a librdkafka property holds a secret and must never be logged.</summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        var k = key.ToLowerInvariant();
        return k.Contains("password", StringComparison.Ordinal)
            || k.Contains("secret", StringComparison.Ordinal)
            || k is "ssl.key.pem" or "ssl_key" or "ssl.keystore.password" or "sasl.oauthbearer.config"
            || k.EndsWith(".pem", StringComparison.Ordinal) && k.Contains("key", StringComparison.Ordinal);
    }

    /// <summary>A copy of <paramref name="properties"/> with secret values replaced by <see cref="Redacted"/>.</summary>
    public static IReadOnlyDictionary<string, string> Redact(IEnumerable<KeyValuePair<string, string>> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        return properties.ToDictionary(kv => kv.Key, kv => IsSecret(kv.Key) ? Redacted : kv.Value, StringComparer.Ordinal);
    }

    /// <summary>The edge consumer configuration: defaults, then the pass-through properties, then the settings the delivery contract needs.</summary>
    public static ConsumerConfig EdgeConsumer(EdgeOptions edge)
    {
        ArgumentNullException.ThrowIfNull(edge);
        var c = new ConsumerConfig
        {
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        foreach (var (k, v) in edge.Kafka)
        {
            c.Set(k, v);
        }

        c.BootstrapServers = edge.BootstrapServers;
        c.GroupId = edge.GroupId;
        // The buffer is the source of truth for positions: offsets are committed by hand, after WhenDurableAsync.
        c.EnableAutoCommit = false;
        c.EnableAutoOffsetStore = false;
        return c;
    }

    /// <summary>Admin settings for the edge cluster (the consumer's pass-through properties minus consumer-only ones).</summary>
    public static AdminClientConfig EdgeAdmin(EdgeOptions edge)
    {
        ArgumentNullException.ThrowIfNull(edge);
        var c = new AdminClientConfig();
        foreach (var (k, v) in edge.Kafka)
        {
            if (!ConsumerOnly.Contains(k))
            {
                c.Set(k, v);
            }
        }

        c.BootstrapServers = edge.BootstrapServers;
        return c;
    }

    /// <summary>The producer of dead letters on the edge cluster: the admin settings plus idempotence and acks from all replicas.</summary>
    public static ProducerConfig EdgeDeadLetterProducer(EdgeOptions edge)
    {
        var c = new ProducerConfig(EdgeAdmin(edge));
        c.EnableIdempotence = true;
        c.Acks = Acks.All;
        c.LingerMs = 5;
        return c;
    }

    private static readonly HashSet<string> ConsumerOnly = new(StringComparer.Ordinal)
    {
        "fetch.queue.backoff.ms", "fetch.min.bytes", "fetch.max.bytes", "fetch.wait.max.ms", "queued.min.messages", "queued.max.messages.kbytes",
        "session.timeout.ms", "heartbeat.interval.ms", "max.poll.interval.ms", "auto.offset.reset", "isolation.level", "enable.auto.commit",
        "enable.auto.offset.store", "group.id", "group.instance.id", "partition.assignment.strategy", "enable.partition.eof", "check.crcs",
        "max.partition.fetch.bytes", "auto.commit.interval.ms", "group.protocol", "group.remote.assignor",
    };

    /// <summary>The central producer configuration for a delivery mode.</summary>
    public static ProducerConfig CentralProducer(CentralOptions central, string siteId)
    {
        ArgumentNullException.ThrowIfNull(central);
        var c = new ProducerConfig
        {
            LingerMs = 5,
            BatchSize = 1_000_000,
            QueueBufferingMaxMessages = 2_000_000,
            QueueBufferingMaxKbytes = 1 << 21,
        };
        c.CompressionType = central.Compression switch
        {
            UplinkCompression.Lz4 => CompressionType.Lz4,
            UplinkCompression.Zstd => CompressionType.Zstd,
            UplinkCompression.Snappy => CompressionType.Snappy,
            UplinkCompression.Gzip => CompressionType.Gzip,
            _ => CompressionType.None,
        };
        foreach (var (k, v) in central.Kafka)
        {
            c.Set(k, v);
        }

        c.BootstrapServers = central.BootstrapServers;
        // Guarantees are not negotiable through pass-through properties.
        c.Acks = Acks.All;
        c.EnableIdempotence = true;
        // At-least-once: no message may time out inside a live producer. librdkafka's idempotent producer leaves a
        // gap when an in-flight message times out and sends the later ones of the partition after an epoch bump; the
        // batch is then resent from its start, so central would get ..., 10, 17..39, 11..39: per-key order broken
        // (chaos smoke policy-drop, 2026-12-01). Instead the drain's Flush gives up after TransactionTimeoutMs and
        // disposes the producer, whose unsent messages are purged without a gap. In a transaction a timed-out
        // message aborts the whole transaction, which read_committed consumers never see.
        c.MessageTimeoutMs = central.Delivery == DeliveryMode.ExactlyOnce ? central.TransactionTimeoutMs : 0;
        // The drain reads only the error of a delivery report: copying key, value and headers back into managed
        // memory for every record cost more than producing it (measured with the forwarder benchmark).
        c.DeliveryReportFields = "none";
        // At-least-once learns of a failed record only from its report. In a transaction a failed record fails the
        // commit, so the drain passes no handler there, and without a report callback librdkafka frees acknowledged
        // messages itself instead of queueing one report per record for the client's poll thread to hand to .NET.
        c.EnableDeliveryReports = central.Delivery != DeliveryMode.ExactlyOnce;
        if (central.Delivery == DeliveryMode.ExactlyOnce)
        {
            c.TransactionalId = TransactionalId(central, siteId);
            c.TransactionTimeoutMs = central.TransactionTimeoutMs;
        }

        return c;
    }

    /// <summary>Admin/consumer settings for the central cluster (pass-through security properties, no producer tuning).</summary>
    public static ClientConfig CentralClient(CentralOptions central)
    {
        ArgumentNullException.ThrowIfNull(central);
        var c = new ClientConfig();
        foreach (var (k, v) in central.Kafka)
        {
            if (!ProducerOnly.Contains(k))
            {
                c.Set(k, v);
            }
        }

        c.BootstrapServers = central.BootstrapServers;
        return c;
    }

    /// <summary>The transactional id: configured, or <c>appliance-forwarder-{site}</c>.</summary>
    public static string TransactionalId(CentralOptions central, string siteId)
    {
        ArgumentNullException.ThrowIfNull(central);
        return string.IsNullOrEmpty(central.TransactionalId) ? $"appliance-forwarder-{siteId}" : central.TransactionalId;
    }

    private static readonly HashSet<string> ProducerOnly = new(StringComparer.Ordinal)
    {
        "linger.ms", "batch.size", "batch.num.messages", "compression.type", "compression.codec", "queue.buffering.max.messages",
        "queue.buffering.max.kbytes", "queue.buffering.max.ms", "acks", "enable.idempotence", "message.timeout.ms",
        "transaction.timeout.ms", "transactional.id", "retries", "retry.backoff.ms", "max.in.flight.requests.per.connection",
        "max.in.flight", "delivery.timeout.ms", "request.required.acks", "compression.level", "sticky.partitioning.linger.ms",
    };
}
