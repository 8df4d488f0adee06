using Xunit;

namespace Appliance.TestKit;

/// <summary>
/// A Kafka-facing <see cref="FactAttribute"/>. Runs against mocks by default and against real clusters when
/// their environment variables are set; a test that injects faults on a cluster role names it in
/// <see cref="FaultInjectionOn"/> and is reported as skipped (never passed) when that role is a real cluster.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class KafkaFactAttribute : FactAttribute
{
    private KafkaClusterRole _faultInjectionOn;
    private KafkaClusterRole _requiresRealCluster;

    /// <summary>Cluster roles this test injects faults on (broker down/up, RTT, request errors): skipped when any is real.</summary>
    public KafkaClusterRole FaultInjectionOn
    {
        get => _faultInjectionOn;
        set
        {
            _faultInjectionOn = value;
            Skip = KafkaSkip.FaultInjectionReason(value) ?? Skip;
        }
    }

    /// <summary>Cluster roles that must be real for this test (behaviour the mock lacks): skipped when any is a mock.</summary>
    public KafkaClusterRole RequiresRealCluster
    {
        get => _requiresRealCluster;
        set
        {
            _requiresRealCluster = value;
            Skip = KafkaSkip.RealClusterReason(value) ?? Skip;
        }
    }
}

/// <summary>The <see cref="TheoryAttribute"/> counterpart of <see cref="KafkaFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class KafkaTheoryAttribute : TheoryAttribute
{
    private KafkaClusterRole _faultInjectionOn;
    private KafkaClusterRole _requiresRealCluster;

    /// <summary>Cluster roles this test injects faults on (broker down/up, RTT, request errors): skipped when any is real.</summary>
    public KafkaClusterRole FaultInjectionOn
    {
        get => _faultInjectionOn;
        set
        {
            _faultInjectionOn = value;
            Skip = KafkaSkip.FaultInjectionReason(value) ?? Skip;
        }
    }

    /// <summary>Cluster roles that must be real for this test (behaviour the mock lacks): skipped when any is a mock.</summary>
    public KafkaClusterRole RequiresRealCluster
    {
        get => _requiresRealCluster;
        set
        {
            _requiresRealCluster = value;
            Skip = KafkaSkip.RealClusterReason(value) ?? Skip;
        }
    }
}

internal static class KafkaSkip
{
    internal static string? FaultInjectionReason(KafkaClusterRole roles) =>
        KafkaTestClusters.IsReal(roles)
            ? $"needs fault injection on the {roles} cluster, which is a real cluster here "
              + $"({KafkaTestClusters.EdgeBootstrapVariable}/{KafkaTestClusters.CentralBootstrapVariable} set); only the mock supports it"
            : null;

    internal static string? RealClusterReason(KafkaClusterRole roles) =>
        Enum.GetValues<KafkaClusterRole>().Any(r => r != KafkaClusterRole.None && roles.HasFlag(r) && !KafkaTestClusters.IsReal(r))
            ? $"needs a real Kafka cluster for {roles} (the librdkafka mock lacks the behaviour under test); "
              + $"set {KafkaTestClusters.EdgeBootstrapVariable}/{KafkaTestClusters.CentralBootstrapVariable}"
            : null;
}
