using Appliance.Core.Records;

namespace Appliance.Buffer;

/// <summary>Why records were dropped from the buffer.</summary>
public enum DropReason : byte
{
    /// <summary>The lane (or the budget) was full and its policy is drop-newest: the new record was not stored.</summary>
    DropNewest = 1,

    /// <summary>The lane was full and its policy is drop-oldest: its oldest records were evicted.</summary>
    DropOldest = 2,

    /// <summary>The records were older than the lane's TTL.</summary>
    Ttl = 3,

    /// <summary>A higher-priority lane needed room in the total budget and this lane's policy allows eviction.</summary>
    PriorityEviction = 4,
}

/// <summary>Extensions for <see cref="DropReason"/>.</summary>
public static class DropReasonExtensions
{
    /// <summary>The stable snake_case name used in metrics labels, gap markers and logs.</summary>
    public static string ToLabel(this DropReason reason) => reason switch
    {
        DropReason.DropNewest => "drop_newest",
        DropReason.DropOldest => "drop_oldest",
        DropReason.Ttl => "ttl",
        DropReason.PriorityEviction => "priority_eviction",
        _ => "unknown",
    };
}

/// <summary>A run of dropped records from one source partition: every dropped offset lies in [First, Last]; Count of them were dropped.</summary>
/// <param name="Topic">Source topic.</param>
/// <param name="Partition">Source partition.</param>
/// <param name="FirstOffset">First dropped offset.</param>
/// <param name="LastOffset">Last dropped offset.</param>
/// <param name="Count">Number of dropped records in the range.</param>
public readonly record struct GapRange(string Topic, int Partition, long FirstOffset, long LastOffset, long Count);

/// <summary>
/// A durable record of loss: which source ranges of a lane were dropped, how many records, and why. Gap markers are
/// stored in the lane they concern and delivered downstream in order with its records.
/// </summary>
/// <param name="Lane">The lane the records were dropped from.</param>
/// <param name="Reason">Why.</param>
/// <param name="Ranges">Exact source ranges (contiguous offsets are merged).</param>
/// <param name="FirstDroppedAtMs">When the first of these records was dropped, Unix ms.</param>
/// <param name="LastDroppedAtMs">When the last of these records was dropped, Unix ms.</param>
public sealed record GapMarker(string Lane, DropReason Reason, IReadOnlyList<GapRange> Ranges, long FirstDroppedAtMs, long LastDroppedAtMs)
{
    /// <summary>Total number of dropped records described by this marker.</summary>
    public long Count => Ranges.Sum(r => r.Count);
}

/// <summary>Accumulates dropped positions into merged ranges until they are written as gap markers.</summary>
internal sealed class GapAccumulator
{
    private readonly Dictionary<DropReason, (List<GapRange> Ranges, long FirstMs, long LastMs)> _byReason = [];

    public bool IsEmpty => _byReason.Count == 0;

    public void Add(DropReason reason, SourcePosition pos, long nowMs) => Add(reason, new GapRange(pos.Topic, pos.Partition, pos.Offset, pos.Offset, 1), nowMs, nowMs);

    public void Add(DropReason reason, GapRange range, long firstMs, long lastMs)
    {
        if (!_byReason.TryGetValue(reason, out var entry))
        {
            entry = ([], firstMs, lastMs);
        }

        var ranges = entry.Ranges;
        // Merge with the latest range of the same partition when offsets continue it; otherwise start a new range.
        var merged = false;
        for (var i = ranges.Count - 1; i >= 0 && i >= ranges.Count - 8; i--)
        {
            var r = ranges[i];
            if (r.Topic == range.Topic && r.Partition == range.Partition && range.FirstOffset == r.LastOffset + 1)
            {
                ranges[i] = r with { LastOffset = range.LastOffset, Count = r.Count + range.Count };
                merged = true;
                break;
            }
        }

        if (!merged)
        {
            ranges.Add(range);
        }

        _byReason[reason] = (ranges, Math.Min(entry.FirstMs, firstMs), Math.Max(entry.LastMs, lastMs));
    }

    public void AddMarker(GapMarker marker)
    {
        foreach (var r in marker.Ranges)
        {
            Add(marker.Reason, r, marker.FirstDroppedAtMs, marker.LastDroppedAtMs);
        }
    }

    public List<GapMarker> Drain(string lane)
    {
        var list = new List<GapMarker>(_byReason.Count);
        foreach (var (reason, (ranges, first, last)) in _byReason.OrderBy(kv => kv.Key))
        {
            // Keep each stored marker bounded so one entry never grows past a page.
            for (var i = 0; i < ranges.Count; i += 512)
            {
                list.Add(new GapMarker(lane, reason, ranges.GetRange(i, Math.Min(512, ranges.Count - i)), first, last));
            }
        }

        _byReason.Clear();
        return list;
    }
}
