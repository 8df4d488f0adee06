namespace Appliance.Forwarder.Drain;

/// <summary>
/// Deficit round robin by bytes over priority lanes. Each round a lane with data earns <c>quantum x weight</c> bytes
/// of credit and may send while its credit is positive (a batch may overshoot; the debt is carried). Lanes are
/// visited in priority order, so a fresh record in the top lane waits at most one round behind a backlog, and every
/// lane with data progresses in proportion to its weight. Idle lanes keep no credit, so no lane can save up a burst.
/// </summary>
public sealed class DeficitScheduler
{
    private readonly long[] _deficit;
    private readonly int[] _weights;
    private readonly long _quantum;

    /// <summary>Creates a scheduler for lanes with these weights (priority order) and quantum in bytes.</summary>
    public DeficitScheduler(IReadOnlyList<int> weights, long quantumBytes)
    {
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentOutOfRangeException.ThrowIfLessThan(quantumBytes, 1);
        _weights = [.. weights];
        _deficit = new long[_weights.Length];
        _quantum = quantumBytes;
    }

    /// <summary>Starts a lane's turn in a round: adds its quantum when it has data (resets it when idle) and returns the bytes it may send now (0 = skip this round).</summary>
    public long BeginTurn(int lane, bool hasData)
    {
        if (!hasData)
        {
            _deficit[lane] = 0;
            return 0;
        }

        var share = _quantum * _weights[lane];
        // Never bank more than one round's share beyond the current one.
        _deficit[lane] = Math.Min(_deficit[lane] + share, 2 * share);
        return Math.Max(0, _deficit[lane]);
    }

    /// <summary>Charges the bytes a lane actually sent in this turn.</summary>
    public void Charge(int lane, long bytes) => _deficit[lane] -= bytes;

    /// <summary>Current credit of a lane (negative = debt), for tests and diagnostics.</summary>
    public long Credit(int lane) => _deficit[lane];
}
