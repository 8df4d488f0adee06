using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Appliance.TestKit;

/// <summary>
/// A real Kafka cluster given by bootstrap servers (and optional client properties for SASL/TLS). Topics are
/// created with the admin API; faults cannot be injected. Disposing does not delete topics (names are unique).
/// </summary>
public sealed class RealKafkaCluster : IKafkaTestCluster
{
    private static readonly TimeSpan TopicVisibleTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Wraps the cluster at <paramref name="bootstrapServers"/>.</summary>
    public RealKafkaCluster(string bootstrapServers, IReadOnlyDictionary<string, string>? clientProperties = null, string? name = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(bootstrapServers);
        BootstrapServers = bootstrapServers;
        ClientProperties = clientProperties ?? new Dictionary<string, string>();
        Description = $"real Kafka cluster{(name is null ? string.Empty : " " + name)} ({bootstrapServers})";
    }

    /// <inheritdoc />
    public string BootstrapServers { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ClientProperties { get; }

    /// <inheritdoc />
    public string Description { get; }

    /// <inheritdoc />
    public bool SupportsFaultInjection => false;

    /// <inheritdoc />
    public async Task CreateTopicAsync(string name, int partitions, short replicationFactor = 1, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        using var admin = new AdminClientBuilder(KafkaTestHelpers.WithClientProperties(new AdminClientConfig { BootstrapServers = BootstrapServers }, ClientProperties)).Build();
        await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = replicationFactor }]);

        // Topic creation is asynchronous on a real cluster: wait until metadata shows every partition with a leader.
        var deadline = DateTimeOffset.UtcNow + TopicVisibleTimeout;
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var metadata = admin.GetMetadata(name, TimeSpan.FromSeconds(5));
            var topic = metadata.Topics.FirstOrDefault(t => t.Topic == name);
            if (topic is { Error.IsError: false } && topic.Partitions.Count == partitions && topic.Partitions.All(p => p.Leader >= 0))
            {
                return;
            }

            if (DateTimeOffset.UtcNow > deadline)
            {
                throw new TimeoutException($"topic {name} not visible with {partitions} partitions after {TopicVisibleTimeout}");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <inheritdoc />
    public Task SetBrokerDownAsync(int brokerId, CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public Task SetBrokerUpAsync(int brokerId, CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public Task SetAllBrokersDownAsync(CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public Task SetAllBrokersUpAsync(CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public Task SetRttAsync(int brokerId, int milliseconds, CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public Task PushRequestErrorsAsync(short apiKey, IReadOnlyList<ErrorCode> errors, CancellationToken cancellationToken = default) => throw NoFaults();

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    public override string ToString() => Description;

    private NotSupportedException NoFaults() =>
        new($"{Description} does not support fault injection; mark the test [KafkaFact(FaultInjectionOn = ...)] so it is skipped");
}
