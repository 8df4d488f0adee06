namespace Appliance.Forwarder.Drain;

/// <summary>
/// Deficit round robin by bytes over priority lanes, planned one transaction at a time. Each round every lane with
/// data earns <c>quantum x weight</c> bytes of credit; rounds are added until the lanes' usable credit covers the
/// transaction budget (work conserving: a lane with little waiting does not waste the others' share), so a
/// transaction carries several rounds' worth (one batch per lane, sized by its credit). A lane is
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
    /// Plans one transaction: returns, per lane, the bytes it may send (0 for lanes without data).
    /// <paramref name="availableBytes"/> is what each lane has waiting (an upper bound; 0 = nothing). Whole rounds are
    /// added until the allowances, each capped at what its lane has, reach <paramref name="budgetBytes"/> or every lane
    /// with data is covered: budget a lane cannot use goes to the others in proportion to their weights.
    /// </summary>
    public long[] Plan(IReadOnlyList<long> availableBytes, long budgetBytes)
    {
        ArgumentNullException.ThrowIfNull(availableBytes);
        var allowance = new long[_deficit.Length];
        var any = false;
        for (var i = 0; i < _deficit.Length; i++)
        {
            if (availableBytes[i] <= 0)
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

        while (true)
        {
            long total = 0;
            var hungry = false;
            for (var i = 0; i < _deficit.Length; i++)
            {
                if (availableBytes[i] > 0 && _deficit[i] < availableBytes[i])
                {
                    _deficit[i] += _quantum * _weights[i];
                    hungry |= _deficit[i] < availableBytes[i];
                }

                total += Math.Min(Math.Max(0, _deficit[i]), Math.Max(0, availableBytes[i]));
            }

            if (total >= budgetBytes || !hungry)
            {
                break;
            }
        }

        for (var i = 0; i < _deficit.Length; i++)
        {
            allowance[i] = availableBytes[i] > 0 ? Math.Max(0, _deficit[i]) : 0;
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
