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

    /// <summary>Cluster roles this test injects faults on (broker down/up, RTT, request errors).</summary>
    public KafkaClusterRole FaultInjectionOn
    {
        get => _faultInjectionOn;
        set
        {
            _faultInjectionOn = value;
            Skip = KafkaSkip.Reason(value) ?? Skip;
        }
    }
}

/// <summary>The <see cref="TheoryAttribute"/> counterpart of <see cref="KafkaFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class KafkaTheoryAttribute : TheoryAttribute
{
    private KafkaClusterRole _faultInjectionOn;

    /// <summary>Cluster roles this test injects faults on (broker down/up, RTT, request errors).</summary>
    public KafkaClusterRole FaultInjectionOn
    {
        get => _faultInjectionOn;
        set
        {
            _faultInjectionOn = value;
            Skip = KafkaSkip.Reason(value) ?? Skip;
        }
    }
}

internal static class KafkaSkip
{
    internal static string? Reason(KafkaClusterRole faultInjectionOn) =>
        KafkaTestClusters.IsReal(faultInjectionOn)
            ? $"needs fault injection on the {faultInjectionOn} cluster, which is a real cluster here "
              + $"({KafkaTestClusters.EdgeBootstrapVariable}/{KafkaTestClusters.CentralBootstrapVariable} set); only the mock supports it"
            : null;
}
