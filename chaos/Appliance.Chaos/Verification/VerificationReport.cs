namespace Appliance.Chaos.Verification;

/// <summary>Counts of one lane.</summary>
public sealed class LaneCounts
{
    /// <summary>Records the edge acknowledged.</summary>
    public long Produced { get; set; }

    /// <summary>Distinct records read at central.</summary>
    public long Delivered { get; set; }

    /// <summary>Acknowledged records missing at central and not covered by a gap marker.</summary>
    public long Lost { get; set; }

    /// <summary>Acknowledged records missing at central inside the source ranges of gap markers.</summary>
    public long DroppedByPolicy { get; set; }

    /// <summary>Acknowledged records inside gap-marker ranges that are nevertheless at central (at least once: delivered by an attempt that failed before the drop).</summary>
    public long DeliveredInGaps { get; set; }

    /// <summary>Sum of the counts of the (distinct) gap markers of this lane.</summary>
    public long GapMarkerCount { get; set; }
}

/// <summary>What the verifier found; <see cref="Passed"/> is false when any check failed, and <see cref="Failures"/> says which key and which sequence numbers.</summary>
public sealed class VerificationReport
{
    /// <summary>Records the edge acknowledged.</summary>
    public long Produced { get; init; }

    /// <summary>Distinct chaos records read at central (first copies).</summary>
    public long Delivered { get; init; }

    /// <summary>Acknowledged records missing at central and not accounted for by a gap marker.</summary>
    public long Lost { get; init; }

    /// <summary>Extra copies at central whose provenance differs from the first copy (or is missing): duplicates no consumer can remove.</summary>
    public long Duplicated { get; init; }

    /// <summary>Extra copies at central with the same provenance as the first copy (redeliveries).</summary>
    public long Redelivered { get; init; }

    /// <summary>Records the edge itself held twice (two edge offsets, one acknowledged), each delivered once: not a forwarding duplicate.</summary>
    public long EdgeDuplicates { get; init; }

    /// <summary>How duplicates were judged.</summary>
    public DuplicateCheck DuplicateCheck { get; init; }

    /// <summary>Records that arrived at central after a higher sequence number of the same key (duplicates of earlier positions excluded).</summary>
    public long OutOfOrder { get; init; }

    /// <summary>Keys whose records were spread over more than one central partition.</summary>
    public long SplitKeys { get; init; }

    /// <summary>Records missing at central inside gap-marker ranges.</summary>
    public long DroppedByPolicy { get; init; }

    /// <summary>Records inside gap-marker ranges that are at central too (allowed only at least once, see <see cref="LaneCounts.DeliveredInGaps"/>).</summary>
    public long DeliveredInGaps { get; init; }

    /// <summary>Sum of the counts of distinct gap markers.</summary>
    public long GapMarkerCount { get; init; }

    /// <summary>Distinct gap markers read.</summary>
    public long GapMarkers { get; init; }

    /// <summary>Chaos records at central whose produce was never acknowledged by the edge (allowed: the edge may have stored them anyway).</summary>
    public long UnacknowledgedDelivered { get; init; }

    /// <summary>Largest produce-to-central latency, milliseconds (first copies).</summary>
    public long LatencyMaxMs { get; init; }

    /// <summary>99th percentile produce-to-central latency, milliseconds (first copies).</summary>
    public long LatencyP99Ms { get; init; }

    /// <summary>Median produce-to-central latency, milliseconds (first copies).</summary>
    public long LatencyP50Ms { get; init; }

    /// <summary>Counts per lane.</summary>
    public IReadOnlyDictionary<string, LaneCounts> Lanes { get; init; } = new Dictionary<string, LaneCounts>();

    /// <summary>Failed checks, one precise message each (bounded; see <see cref="FailuresOmitted"/>).</summary>
    public IReadOnlyList<string> Failures { get; init; } = [];

    /// <summary>Messages left out of <see cref="Failures"/> to keep the report readable.</summary>
    public int FailuresOmitted { get; init; }

    /// <summary>Observations that do not fail the run (redeliveries, not-checkable duplicates, unacknowledged records).</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>True when nothing was lost, duplicated (per <see cref="DuplicateCheck"/>) or reordered, and every drop is matched by a gap marker.</summary>
    public bool Passed => Failures.Count == 0;
}
