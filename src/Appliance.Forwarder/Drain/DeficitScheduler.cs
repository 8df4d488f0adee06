namespace Appliance.Forwarder.Drain;

/// <summary>
/// Deficit round robin by bytes over priority lanes, planned one transaction at a time. Each round every lane with
/// data earns <c>quantum x weight</c> bytes of credit; rounds are added until the lanes' credit covers the transaction
/// budget, so a transaction carries several rounds' worth (one batch per lane, sized by its credit). A lane is
/// charged what it actually sent (a batch may overshoot; the debt is carried) and loses its credit when it runs
/// empty, so no lane saves up a burst. Result: every lane with data progresses in proportion to its weight, lanes
/// are produced in priority order within a transaction, and a fresh top-lane record waits at most one transaction.
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

    /// <summary>
    /// Plans one transaction: returns, per lane, the bytes it may send (0 for lanes without data). Adds whole rounds
    /// until the allowances reach <paramref name="budgetBytes"/> (at least one round).
    /// </summary>
    public long[] Plan(IReadOnlyList<bool> hasData, long budgetBytes)
    {
        ArgumentNullException.ThrowIfNull(hasData);
        var allowance = new long[_deficit.Length];
        var any = false;
        for (var i = 0; i < _deficit.Length; i++)
        {
            if (!hasData[i])
            {
                _deficit[i] = 0;
            }
            else
            {
                any = true;
            }
        }

        if (!any)
        {
            return allowance;
        }

        long total;
        do
        {
            total = 0;
            for (var i = 0; i < _deficit.Length; i++)
            {
                if (hasData[i])
                {
                    _deficit[i] += _quantum * _weights[i];
                    total += Math.Max(0, _deficit[i]);
                }
            }
        }
        while (total < budgetBytes);

        for (var i = 0; i < _deficit.Length; i++)
        {
            allowance[i] = hasData[i] ? Math.Max(0, _deficit[i]) : 0;
        }

        return allowance;
    }

    /// <summary>Charges the bytes a lane sent; <paramref name="ranEmpty"/> = it had less than its allowance, so its remaining credit is dropped.</summary>
    public void Charge(int lane, long bytes, bool ranEmpty)
    {
        _deficit[lane] = ranEmpty ? 0 : _deficit[lane] - bytes;
    }

    /// <summary>Current credit of a lane (negative = debt), for tests and diagnostics.</summary>
    public long Credit(int lane) => _deficit[lane];
}
