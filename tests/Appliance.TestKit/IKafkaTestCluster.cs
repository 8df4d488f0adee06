using Confluent.Kafka;

namespace Appliance.TestKit;

/// <summary>
/// A Kafka cluster a test talks to: an in-process mock, a mock in a child process, or a real cluster named by
/// environment variables (see <see cref="KafkaTestClusters"/>). Fault injection exists only on mocks: check
/// <see cref="SupportsFaultInjection"/> (or use <see cref="KafkaFactAttribute.FaultInjectionOn"/> to skip).
/// </summary>
public interface IKafkaTestCluster : IDisposable, IAsyncDisposable
{
    /// <summary>The <c>bootstrap.servers</c> value for clients.</summary>
    string BootstrapServers { get; }

    /// <summary>Extra librdkafka client properties every client of this cluster needs (SASL/TLS); empty for mocks.</summary>
    IReadOnlyDictionary<string, string> ClientProperties { get; }

    /// <summary>Human-readable kind of cluster, for test output.</summary>
    string Description { get; }

    /// <summary>True when broker down/up, RTT and request errors can be injected.</summary>
    bool SupportsFaultInjection { get; }

    /// <summary>Creates a topic and returns once clients can use it.</summary>
    Task CreateTopicAsync(string name, int partitions, short replicationFactor = 1, CancellationToken cancellationToken = default);

    /// <summary>Disconnects broker <paramref name="brokerId"/> (1-based) and refuses new connections.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task SetBrokerDownAsync(int brokerId, CancellationToken cancellationToken = default);

    /// <summary>Lets broker <paramref name="brokerId"/> accept connections again.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task SetBrokerUpAsync(int brokerId, CancellationToken cancellationToken = default);

    /// <summary>Sets every broker down.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task SetAllBrokersDownAsync(CancellationToken cancellationToken = default);

    /// <summary>Sets every broker up.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task SetAllBrokersUpAsync(CancellationToken cancellationToken = default);

    /// <summary>Delays every response of broker <paramref name="brokerId"/> (-1 = all) by <paramref name="milliseconds"/>.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task SetRttAsync(int brokerId, int milliseconds, CancellationToken cancellationToken = default);

    /// <summary>Makes the next requests of protocol <paramref name="apiKey"/> fail with <paramref name="errors"/>, in order.</summary>
    /// <exception cref="NotSupportedException">The cluster does not support fault injection.</exception>
    Task PushRequestErrorsAsync(short apiKey, IReadOnlyList<ErrorCode> errors, CancellationToken cancellationToken = default);
}
