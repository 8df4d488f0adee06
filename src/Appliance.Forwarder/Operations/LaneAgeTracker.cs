using Appliance.Buffer;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// Estimates when each lane's oldest unsent record was buffered. The buffer counts records appended and removed but
/// keeps no per-record time we can read without disturbing the drain, so this samples the appended count (once per
/// <see cref="Sample"/> call, every second from <see cref="ForwarderStatusSource"/>) and finds the first sample by which
/// the oldest unsent record had been appended. Resolution is the sampling interval; records recovered from disk after a
/// restart count from the restart (their age is understated).
/// </summary>
public sealed class LaneAgeTracker
{
    private readonly Dictionary<string, List<(DateTimeOffset At, long Appended)>> _samples = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Records the lane's appended count at <paramref name="now"/> and returns when its oldest unsent record was buffered (null when empty).</summary>
    public DateTimeOffset? Sample(LaneStats stats, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(stats);
        lock (_gate)
        {
            if (!_samples.TryGetValue(stats.Lane, out var list))
            {
                _samples[stats.Lane] = list = [];
            }

            if (list.Count == 0 || list[^1].Appended != stats.AppendedRecords)
            {
                list.Add((now, stats.AppendedRecords));
            }

            var removed = stats.AppendedRecords - stats.BufferedRecords;
            // Samples whose successor still lies at or below the removed count can never be the answer again.
            while (list.Count > 1 && list[1].Appended <= removed)
            {
                list.RemoveAt(0);
            }

            if (stats.BufferedRecords <= 0)
            {
                return null;
            }

            foreach (var (at, appended) in list)
            {
                if (appended > removed)
                {
                    return at;
                }
            }

            return list[^1].At;
        }
    }
}
