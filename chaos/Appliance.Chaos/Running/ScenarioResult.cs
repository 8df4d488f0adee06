using Appliance.Chaos.Faults;
using Appliance.Chaos.Verification;

namespace Appliance.Chaos.Running;

/// <summary>Outcome of one scenario.</summary>
public sealed class ScenarioResult
{
    /// <summary>Scenario name.</summary>
    public required string Name { get; init; }

    /// <summary>Scenario description.</summary>
    public required string Description { get; init; }

    /// <summary><c>passed</c>, <c>failed</c>, <c>skipped</c> or <c>error</c>.</summary>
    public required string Status { get; set; }

    /// <summary>Why it was skipped or errored.</summary>
    public string? Reason { get; set; }

    /// <summary>Forwarder delivery mode.</summary>
    public string Delivery { get; init; } = "";

    /// <summary>Cluster kinds, e.g. "edge=mock central=mock".</summary>
    public string Clusters { get; set; } = "";

    /// <summary>Wall time of the scenario, seconds.</summary>
    public double Seconds { get; set; }

    /// <summary>Seconds from the last fault healed (and the load stopped) until central had every acknowledged record.</summary>
    public double? DrainSeconds { get; set; }

    /// <summary>Value bytes produced to the edge.</summary>
    public long BytesProduced { get; set; }

    /// <summary>What was done.</summary>
    public FaultCounters Counters { get; set; } = new();

    /// <summary>The verifier's report.</summary>
    public VerificationReport? Verification { get; set; }

    /// <summary>Forwarder exits (kills, SIGTERMs, crashes).</summary>
    public IReadOnlyList<ForwarderExit> ForwarderExits { get; set; } = [];

    /// <summary>Exit code of the final graceful stop (0 expected).</summary>
    public int? FinalStopExitCode { get; set; }

    /// <summary>Timeline of faults.</summary>
    public IReadOnlyList<string> Events { get; set; } = [];

    /// <summary>Run directory (forwarder log, configuration, produced log).</summary>
    public string Directory { get; set; } = "";
}
