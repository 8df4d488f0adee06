using System.Diagnostics;
using System.Text.Json.Nodes;
using Confluent.Kafka;

namespace Appliance.TestKit;

/// <summary>Small helpers every Kafka-facing test needs: unique names, client configs, read-back with a deadline.</summary>
public static class KafkaTestHelpers
{
    /// <summary>
    /// A name unique to this call (for topics, groups, transactional ids): <c>{prefix}-{12 hex}</c>, using only
    /// characters legal in Kafka topic names.
    /// </summary>
    public static string UniqueName(string prefix)
    {
        ArgumentException.ThrowIfNullOrEmpty(prefix);
        return $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];
    }

    /// <summary>Copies <paramref name="properties"/> into <paramref name="config"/> and returns it.</summary>
    public static T WithClientProperties<T>(T config, IReadOnlyDictionary<string, string> properties)
        where T : ClientConfig
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(properties);
        foreach (var (key, value) in properties)
        {
            config.Set(key, value);
        }

        return config;
    }

    /// <summary>
    /// A forwarder configuration's <c>Edge:Kafka</c> or <c>Central:Kafka</c> section for <paramref name="cluster"/>:
    /// the test's tuning in <paramref name="defaults"/>, then the cluster's own client properties (for a real cluster,
    /// its security settings), which win.
    /// </summary>
    public static JsonObject ForwarderKafkaSection(this IKafkaTestCluster cluster, params (string Key, string Value)[] defaults)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        ArgumentNullException.ThrowIfNull(defaults);
        var section = new JsonObject();
        foreach (var (key, value) in defaults.Concat(cluster.ClientProperties.Select(kv => (kv.Key, kv.Value))))
        {
            section[key] = value;
        }

        return section;
    }

    /// <summary>
    /// Consumer settings for tests: given group, earliest reset, no auto commit, <c>fetch.queue.backoff.ms=10</c>
    /// (with the default the mock is read about 6x slower), and <paramref name="isolation"/>.
    /// </summary>
    public static ConsumerConfig ConsumerConfig(string bootstrapServers, string groupId, IsolationLevel isolation = IsolationLevel.ReadCommitted) =>
        new()
        {
            BootstrapServers = bootstrapServers,
            GroupId = groupId,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            IsolationLevel = isolation,
            FetchQueueBackoffMs = 10,
            // Topics are created explicitly; auto-creation would hide a wrong name.
            AllowAutoCreateTopics = false,
        };

    /// <summary><see cref="ConsumerConfig(string, string, IsolationLevel)"/> for <paramref name="cluster"/>, with its client properties.</summary>
    public static ConsumerConfig ConsumerConfig(this IKafkaTestCluster cluster, string groupId, IsolationLevel isolation = IsolationLevel.ReadCommitted)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return WithClientProperties(ConsumerConfig(cluster.BootstrapServers, groupId, isolation), cluster.ClientProperties);
    }

    /// <summary>Producer settings for tests: acks=all, idempotent, 5 ms linger.</summary>
    public static ProducerConfig ProducerConfig(string bootstrapServers) =>
        new()
        {
            BootstrapServers = bootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 5,
        };

    /// <summary><see cref="ProducerConfig(string)"/> for <paramref name="cluster"/>, with its client properties.</summary>
    public static ProducerConfig ProducerConfig(this IKafkaTestCluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return WithClientProperties(ProducerConfig(cluster.BootstrapServers), cluster.ClientProperties);
    }

    /// <summary>Admin client settings for <paramref name="cluster"/>.</summary>
    public static AdminClientConfig AdminConfig(this IKafkaTestCluster cluster)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return WithClientProperties(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }, cluster.ClientProperties);
    }

    /// <summary>
    /// Reads every partition of <paramref name="topic"/> from the beginning (no consumer group: partitions are
    /// assigned directly) until <paramref name="expectedCount"/> records were read or <paramref name="timeout"/>
    /// passed, and returns what was read, in per-partition order. It does not wait for records beyond
    /// <paramref name="expectedCount"/>: to prove there are no extra records, ask for more and let it time out, or
    /// compare end offsets. Keys and values are raw bytes (null when absent).
    /// </summary>
    public static Task<IReadOnlyList<ConsumeResult<byte[], byte[]>>> ConsumeAllAsync(
        string bootstrapServers, string topic, int expectedCount, TimeSpan timeout,
        IsolationLevel isolation = IsolationLevel.ReadCommitted, CancellationToken cancellationToken = default) =>
        ConsumeAllAsync(bootstrapServers, new Dictionary<string, string>(), topic, expectedCount, timeout, isolation, cancellationToken);

    /// <summary><see cref="ConsumeAllAsync(string, string, int, TimeSpan, IsolationLevel, CancellationToken)"/> on <paramref name="cluster"/>.</summary>
    public static Task<IReadOnlyList<ConsumeResult<byte[], byte[]>>> ConsumeAllAsync(
        this IKafkaTestCluster cluster, string topic, int expectedCount, TimeSpan timeout,
        IsolationLevel isolation = IsolationLevel.ReadCommitted, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return ConsumeAllAsync(cluster.BootstrapServers, cluster.ClientProperties, topic, expectedCount, timeout, isolation, cancellationToken);
    }

    private static Task<IReadOnlyList<ConsumeResult<byte[], byte[]>>> ConsumeAllAsync(
        string bootstrapServers, IReadOnlyDictionary<string, string> properties, string topic, int expectedCount,
        TimeSpan timeout, IsolationLevel isolation, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(topic);
        ArgumentOutOfRangeException.ThrowIfNegative(expectedCount);
        return Task.Run(() => ConsumeAll(bootstrapServers, properties, topic, expectedCount, timeout, isolation, cancellationToken), cancellationToken);
    }

    private static IReadOnlyList<ConsumeResult<byte[], byte[]>> ConsumeAll(
        string bootstrapServers, IReadOnlyDictionary<string, string> properties, string topic, int expectedCount,
        TimeSpan timeout, IsolationLevel isolation, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var config = WithClientProperties(ConsumerConfig(bootstrapServers, UniqueName("testkit-read"), isolation), properties);
        var results = new List<ConsumeResult<byte[], byte[]>>(expectedCount);

        using var consumer = new ConsumerBuilder<byte[], byte[]>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .Build();
        var adminConfig = WithClientProperties(new AdminClientConfig { BootstrapServers = bootstrapServers }, properties);
        consumer.Assign(PartitionsOf(adminConfig, topic, timeout - clock.Elapsed)
            .Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));

        while (results.Count < expectedCount)
        {
            cancellationToken.ThrowIfCancellationRequested();
            // Computed once and checked: a wait that turned negative between a check and the call (this thread
            // descheduled for a millisecond) would reach librdkafka as -1, which means wait forever (it did, in a
            // fresh-clone run on 2026-12-04: a test waited 20 minutes on an empty topic).
            var wait = timeout - clock.Elapsed;
            if (wait <= TimeSpan.Zero)
            {
                break;
            }

            var result = consumer.Consume(wait < TimeSpan.FromMilliseconds(200) ? wait : TimeSpan.FromMilliseconds(200));
            if (result is { IsPartitionEOF: false, Message: not null })
            {
                results.Add(result);
            }
        }

        consumer.Close();
        return results;
    }

    private static IEnumerable<int> PartitionsOf(AdminClientConfig config, string topic, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        using var admin = new AdminClientBuilder(config).Build();
        while (true)
        {
            var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(2));
            var t = metadata.Topics.FirstOrDefault(m => m.Topic == topic);
            if (t is { Error.IsError: false } && t.Partitions.Count > 0)
            {
                return [.. t.Partitions.Select(p => p.PartitionId)];
            }

            if (clock.Elapsed > timeout)
            {
                throw new TimeoutException($"topic {topic} has no partitions in metadata after {timeout} ({t?.Error})");
            }

            Thread.Sleep(50);
        }
    }
}
