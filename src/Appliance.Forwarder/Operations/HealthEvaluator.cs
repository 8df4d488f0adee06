using Appliance.Core.Status;

namespace Appliance.Forwarder.Operations;

/// <summary>A health verdict with the reasons when negative.</summary>
/// <param name="Healthy">True when the check passes.</param>
/// <param name="Reasons">Why it does not (empty when healthy).</param>
public sealed record HealthVerdict(bool Healthy, IReadOnlyList<string> Reasons)
{
    /// <summary>One line for a person or a probe.</summary>
    public string Describe(string okWord) => Healthy ? okWord : "not " + okWord + ": " + string.Join("; ", Reasons);
}

/// <summary>
/// Liveness and readiness, derived from one status snapshot.
/// Liveness (<c>/healthz</c>, and the systemd watchdog) fails only for conditions a restart can cure: the status cannot
/// be read or the buffer faulted. Readiness (<c>/readyz</c>) also needs the buffer open and the edge broker reachable.
/// Central being offline is normal for this product (days of outage) and affects neither.
/// </summary>
public sealed class HealthEvaluator
{
    private readonly IApplianceStatusSource _source;

    /// <summary>Creates the evaluator.</summary>
    public HealthEvaluator(IApplianceStatusSource source) => _source = source;

    /// <summary>Liveness.</summary>
    public HealthVerdict Liveness()
    {
        var (status, error) = TryRead();
        if (status is null)
        {
            return new HealthVerdict(false, [error!]);
        }

        return status.Buffer.Faulted ? new HealthVerdict(false, ["buffer faulted: " + (status.Buffer.FaultReason ?? "unknown reason")]) : new HealthVerdict(true, []);
    }

    /// <summary>Readiness.</summary>
    public HealthVerdict Readiness()
    {
        var (status, error) = TryRead();
        if (status is null)
        {
            return new HealthVerdict(false, [error!]);
        }

        var reasons = new List<string>();
        if (status.Buffer.Faulted)
        {
            reasons.Add("buffer faulted: " + (status.Buffer.FaultReason ?? "unknown reason"));
        }
        else if (!status.Buffer.Open)
        {
            reasons.Add("buffer not open");
        }

        if (!status.EdgeReachable)
        {
            reasons.Add("edge broker unreachable");
        }

        return new HealthVerdict(reasons.Count == 0, reasons);
    }

    private (ApplianceStatus? Status, string? Error) TryRead()
    {
        try
        {
            return (_source.GetStatus(), null);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (null, "status unavailable: " + e.Message);
        }
    }
}
