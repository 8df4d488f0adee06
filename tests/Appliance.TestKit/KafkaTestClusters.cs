namespace Appliance.TestKit;

/// <summary>Which side of the product a test cluster stands for.</summary>
[Flags]
public enum KafkaClusterRole
{
    /// <summary>No cluster.</summary>
    None = 0,

    /// <summary>The on-site (edge) broker.</summary>
    Edge = 1,

    /// <summary>The central cluster.</summary>
    Central = 2,
}

/// <summary>
/// Picks the cluster a test runs against: a real one when its environment variable is set, else a new
/// in-process mock. Environment: <see cref="EdgeBootstrapVariable"/>, <see cref="CentralBootstrapVariable"/>,
/// and <see cref="ClientConfigVariable"/> (<c>key=value;key=value</c> librdkafka properties for real clusters).
/// </summary>
public static class KafkaTestClusters
{
    /// <summary>Bootstrap servers of a real edge cluster.</summary>
    public const string EdgeBootstrapVariable = "APPLIANCE_TEST_EDGE_BOOTSTRAP";

    /// <summary>Bootstrap servers of a real central cluster.</summary>
    public const string CentralBootstrapVariable = "APPLIANCE_TEST_CENTRAL_BOOTSTRAP";

    /// <summary>Extra librdkafka client properties for real clusters, <c>key=value;key=value</c>.</summary>
    public const string ClientConfigVariable = "APPLIANCE_TEST_KAFKA_CONFIG";

    /// <summary>The edge cluster: real when <see cref="EdgeBootstrapVariable"/> is set, else a new mock.</summary>
    public static IKafkaTestCluster Edge(int mockBrokers = 1) => Create(KafkaClusterRole.Edge, mockBrokers);

    /// <summary>The central cluster: real when <see cref="CentralBootstrapVariable"/> is set, else a new mock.</summary>
    public static IKafkaTestCluster Central(int mockBrokers = 1) => Create(KafkaClusterRole.Central, mockBrokers);

    /// <summary>True when <paramref name="role"/> (any flag of it) resolves to a real cluster.</summary>
    public static bool IsReal(KafkaClusterRole role) =>
        (role.HasFlag(KafkaClusterRole.Edge) && RealBootstrap(KafkaClusterRole.Edge) is not null)
        || (role.HasFlag(KafkaClusterRole.Central) && RealBootstrap(KafkaClusterRole.Central) is not null);

    /// <summary>Parses <see cref="ClientConfigVariable"/>; empty when unset.</summary>
    public static IReadOnlyDictionary<string, string> RealClientProperties() =>
        ParseProperties(Environment.GetEnvironmentVariable(ClientConfigVariable));

    /// <summary>Parses <c>key=value;key=value</c> (blank entries ignored, values may contain '=').</summary>
    public static IReadOnlyDictionary<string, string> ParseProperties(string? text)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrWhiteSpace(text))
        {
            return result;
        }

        foreach (var entry in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = entry.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new FormatException($"{ClientConfigVariable}: entry '{entry}' is not key=value");
            }

            result[entry[..eq].Trim()] = entry[(eq + 1)..].Trim();
        }

        return result;
    }

    private static IKafkaTestCluster Create(KafkaClusterRole role, int mockBrokers)
    {
        var bootstrap = RealBootstrap(role);
        return bootstrap is null
            ? new MockKafkaCluster(mockBrokers)
            : new RealKafkaCluster(bootstrap, RealClientProperties(), role.ToString().ToLowerInvariant());
    }

    private static string? RealBootstrap(KafkaClusterRole role)
    {
        var value = Environment.GetEnvironmentVariable(role == KafkaClusterRole.Edge ? EdgeBootstrapVariable : CentralBootstrapVariable);
        return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
