using System.Globalization;
using System.Text;

namespace Appliance.Chaos.Verification;

/// <summary>
/// Checks what central holds against what the edge acknowledged: loss, duplicates, per-key order, and that every
/// policy drop is matched by a gap marker. Feed it with <see cref="RecordProduced"/> (edge delivery reports),
/// <see cref="RecordDelivered"/> (records read at central with read_committed, in partition order),
/// <see cref="RecordGap"/> (gap-topic records), then call <see cref="Verify"/>. Thread-safe.
/// </summary>
/// <remarks>
/// Order is judged per key in central (partition, offset) order: a record is out of order when a higher sequence
/// number of its key came before it, ignoring second copies of records already seen (those are duplicates, judged
/// by <see cref="DuplicateCheck"/>). Loss is strict in every mode: an acknowledged record missing at central is lost
/// unless its edge position lies inside a gap marker's source range.
/// </remarks>
public sealed class DeliveryVerifier
{
    /// <summary>Most failure messages kept per check; the rest are counted.</summary>
    public const int MaxMessagesPerCheck = 20;

    private readonly object _lock = new();
    private readonly DuplicateCheck _duplicateCheck;
    private readonly Dictionary<string, Dictionary<long, ProducedRecord>> _produced = new(StringComparer.Ordinal);
    private readonly HashSet<(string Key, long Sequence)> _unacknowledged = [];
    private readonly Dictionary<string, List<DeliveredRecord>> _delivered = new(StringComparer.Ordinal);
    private readonly Dictionary<string, GapMarker> _gaps = new(StringComparer.Ordinal);
    private readonly List<string> _invalid = [];

    /// <summary>Creates a verifier that judges duplicates by <paramref name="duplicateCheck"/>.</summary>
    public DeliveryVerifier(DuplicateCheck duplicateCheck) => _duplicateCheck = duplicateCheck;

    /// <summary>
    /// Reads one record of the edge (key and sequence of the chaos record at that position; null when it cannot be
    /// read). With it, two copies naming two offsets of one edge partition are recognised as a record the edge itself
    /// stored twice when both offsets hold it; without it every such copy is a duplicate. The default value is null.
    /// </summary>
    public Func<Provenance, (string Key, long Sequence)?>? EdgeLookup { get; set; }

    /// <summary>Only records produced at or after this time (Unix ms) count in the latency figures. The default value is 0 (all).</summary>
    public long LatencyFromMs { get; set; }

    /// <summary>Records acknowledged by the edge so far.</summary>
    public long ProducedCount
    {
        get
        {
            lock (_lock)
            {
                return _produced.Values.Sum(d => (long)d.Count);
            }
        }
    }

    /// <summary>Copies read at central so far (all copies).</summary>
    public long DeliveredCopies
    {
        get
        {
            lock (_lock)
            {
                return _delivered.Values.Sum(l => (long)l.Count);
            }
        }
    }

    /// <summary>An edge-acknowledged record.</summary>
    public void RecordProduced(ProducedRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_lock)
        {
            if (!_produced.TryGetValue(record.Key, out var seqs))
            {
                _produced[record.Key] = seqs = [];
            }

            seqs[record.Sequence] = record;
        }
    }

    /// <summary>A record whose produce to the edge failed: it may or may not exist at the edge, so it is not required at central.</summary>
    public void RecordProduceFailed(string key, long sequence)
    {
        lock (_lock)
        {
            _unacknowledged.Add((key, sequence));
        }
    }

    /// <summary>One copy read at central. Copies of one partition must be fed in offset order (any interleaving across partitions is fine).</summary>
    public void RecordDelivered(DeliveredRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_lock)
        {
            if (!_delivered.TryGetValue(record.Key, out var list))
            {
                _delivered[record.Key] = list = [];
            }

            list.Add(record);
        }
    }

    /// <summary>A gap marker read at central; identical copies count once.</summary>
    public void RecordGap(GapMarker marker)
    {
        ArgumentNullException.ThrowIfNull(marker);
        lock (_lock)
        {
            _gaps.TryAdd(marker.Identity, marker);
        }
    }

    /// <summary>Marks the whole verification invalid (e.g. the mock evicted records before they were read); it then fails with this reason.</summary>
    public void MarkInvalid(string reason)
    {
        lock (_lock)
        {
            if (!_invalid.Contains(reason))
            {
                _invalid.Add(reason);
            }
        }
    }

    /// <summary>True when every acknowledged record has at least one copy at central or lies inside a gap range.</summary>
    public bool IsComplete()
    {
        lock (_lock)
        {
            var gapIndex = GapIndex.Build(_gaps.Values);
            foreach (var (key, seqs) in _produced)
            {
                var seen = _delivered.TryGetValue(key, out var list) ? list.Select(d => d.Sequence).ToHashSet() : [];
                foreach (var (seq, p) in seqs)
                {
                    if (!seen.Contains(seq) && !gapIndex.Covers(p.EdgeTopic, p.EdgePartition, p.EdgeOffset))
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }

    /// <summary>Runs every check over what was fed so far.</summary>
    public VerificationReport Verify()
    {
        lock (_lock)
        {
            return VerifyLocked();
        }
    }

    private VerificationReport VerifyLocked()
    {
        var failures = new Failures();
        var notes = new List<string>();
        var lanes = new SortedDictionary<string, LaneCounts>(StringComparer.Ordinal);
        foreach (var reason in _invalid)
        {
            failures.Add("invalid", $"verification invalid: {reason}");
        }

        LaneCounts Lane(string name)
        {
            if (!lanes.TryGetValue(name, out var c))
            {
                lanes[name] = c = new LaneCounts();
            }

            return c;
        }

        long delivered = 0, duplicated = 0, redelivered = 0, outOfOrder = 0, splitKeys = 0, unacknowledged = 0, edgeDuplicates = 0;
        var edgeDuplicateExamples = new List<string>();
        var latencies = new List<long>();
        var firstCopies = new Dictionary<string, HashSet<long>>(StringComparer.Ordinal);

        foreach (var (key, copies) in _delivered.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            _produced.TryGetValue(key, out var producedSeqs);
            var partitions = copies.Select(c => (c.Topic, c.Partition)).Distinct().ToList();
            if (partitions.Count > 1)
            {
                splitKeys++;
                failures.Add("split", $"key {key}: records spread over central partitions {string.Join(", ", partitions.Select(p => $"{p.Topic}/{p.Partition}"))}; per-key order cannot hold");
            }

            var first = new Dictionary<long, DeliveredRecord>();
            // Per partition, in offset order; the order check runs within each partition.
            foreach (var group in copies.GroupBy(c => (c.Topic, c.Partition)))
            {
                DeliveredRecord? highest = null;
                foreach (var r in group.OrderBy(c => c.Offset))
                {
                    if (first.TryGetValue(r.Sequence, out var earlier))
                    {
                        if (r.Source is { } s && earlier.Source is { } e && s == e)
                        {
                            redelivered++;
                            if (_duplicateCheck == DuplicateCheck.Strict)
                            {
                                failures.Add("duplicate", $"duplicate: key {key} seq {r.Sequence} at {earlier.Position} and again at {r.Position} (same source {s})");
                            }
                        }
                        else if (IsEdgeDuplicate(key, r.Sequence, earlier.Source, r.Source))
                        {
                            // The edge itself holds the record twice (a producer retry the edge broker stored again,
                            // e.g. across an edge restart): two edge offsets, one of them the acknowledged one. The
                            // forwarder delivered each edge record once; not a forwarding duplicate.
                            edgeDuplicates++;
                            if (edgeDuplicateExamples.Count < 3)
                            {
                                edgeDuplicateExamples.Add($"key {key} seq {r.Sequence} at edge {earlier.Source} and {r.Source}");
                            }
                        }
                        else
                        {
                            duplicated++;
                            failures.Add("duplicate", $"duplicate: key {key} seq {r.Sequence} at {earlier.Position} (source {Describe(earlier.Source)}) and at {r.Position} (source {Describe(r.Source)}); not removable by provenance");
                        }

                        continue;
                    }

                    first[r.Sequence] = r;
                    if (highest is not null && r.Sequence < highest.Sequence)
                    {
                        outOfOrder++;
                        failures.Add("order", $"out of order: key {key} seq {r.Sequence} at {r.Position} came after seq {highest.Sequence} at {highest.Position}");
                    }
                    else
                    {
                        highest = r;
                    }
                }
            }

            firstCopies[key] = [.. first.Keys];
            foreach (var (seq, r) in first)
            {
                if (producedSeqs is not null && producedSeqs.TryGetValue(seq, out var p))
                {
                    delivered++;
                    Lane(p.Lane).Delivered++;
                }
                else
                {
                    // Not acknowledged (or acknowledged after this read): a record the edge may hold although the producer gave up.
                    unacknowledged++;
                }

                if (r.ProducedAtMs >= LatencyFromMs)
                {
                    latencies.Add(Math.Max(0, r.ArrivedAtMs - r.ProducedAtMs));
                }
            }
        }

        var gapIndex = GapIndex.Build(_gaps.Values);
        long produced = 0, lost = 0, dropped = 0, deliveredInGaps = 0;
        foreach (var (key, seqs) in _produced.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            firstCopies.TryGetValue(key, out var seen);
            var missing = new List<ProducedRecord>();
            foreach (var (seq, p) in seqs)
            {
                produced++;
                var lane = Lane(p.Lane);
                lane.Produced++;
                if (seen is not null && seen.Contains(seq))
                {
                    if (gapIndex.Covers(p.EdgeTopic, p.EdgePartition, p.EdgeOffset))
                    {
                        deliveredInGaps++;
                        lane.DeliveredInGaps++;
                    }

                    continue;
                }

                if (gapIndex.Covers(p.EdgeTopic, p.EdgePartition, p.EdgeOffset))
                {
                    dropped++;
                    lane.DroppedByPolicy++;
                }
                else
                {
                    lost++;
                    lane.Lost++;
                    missing.Add(p);
                }
            }

            if (missing.Count > 0)
            {
                failures.Add("loss", $"lost: key {key} {DescribeMissing(missing)}");
            }
        }

        long gapCount = 0;
        foreach (var g in _gaps.Values)
        {
            gapCount += g.Count;
            Lane(g.Lane).GapMarkerCount += g.Count;
        }

        // A gap marker names exactly the records dropped. At least once, a dropped record may also have reached central
        // in a delivery attempt that failed before the eviction (the batch was rewound, then evicted); it is then named
        // and present. Exactly once, a record is either delivered or dropped, never both.
        var atLeastOnce = _duplicateCheck == DuplicateCheck.ProvenanceDedup;
        foreach (var (name, c) in lanes)
        {
            if (atLeastOnce && c.GapMarkerCount != c.DroppedByPolicy + c.DeliveredInGaps)
            {
                failures.Add("gap", $"gap markers of lane {name} count {c.GapMarkerCount} dropped records, but {c.DroppedByPolicy + c.DeliveredInGaps} acknowledged records of that lane lie inside their ranges ({c.DroppedByPolicy} missing, {c.DeliveredInGaps} delivered by an earlier attempt)");
            }
            else if (!atLeastOnce && c.GapMarkerCount != c.DroppedByPolicy)
            {
                failures.Add("gap", $"gap markers of lane {name} count {c.GapMarkerCount} dropped records, but {c.DroppedByPolicy} acknowledged records of that lane are missing inside their ranges"
                    + (c.DeliveredInGaps > 0 ? $" and {c.DeliveredInGaps} named by them were delivered" : ""));
            }
        }

        if (atLeastOnce && deliveredInGaps > 0)
        {
            notes.Add($"{deliveredInGaps} records named by gap markers had reached central in a delivery attempt that failed before they were dropped (at-least-once; a consumer sees them and the gap marker)");
        }

        if (redelivered > 0 && _duplicateCheck != DuplicateCheck.Strict)
        {
            notes.Add(_duplicateCheck == DuplicateCheck.ProvenanceDedup
                ? $"{redelivered} redelivered copies with identical provenance (at-least-once mode; removable by the provenance header)"
                : $"{redelivered} second copies with identical provenance: not checkable on the mock (it shows aborted/open transactions to read_committed readers); a real cluster is needed to tell them from real duplicates");
        }

        if (edgeDuplicates > 0)
        {
            notes.Add($"{edgeDuplicates} records stored twice at the edge (a second edge offset with the same key and sequence; each edge record delivered once), e.g. {string.Join("; ", edgeDuplicateExamples)}");
        }

        if (unacknowledged > 0)
        {
            notes.Add($"{unacknowledged} records at central whose edge produce was not acknowledged (allowed)");
        }

        latencies.Sort();
        return new VerificationReport
        {
            Produced = produced,
            Delivered = delivered,
            Lost = lost,
            Duplicated = duplicated,
            Redelivered = redelivered,
            EdgeDuplicates = edgeDuplicates,
            DuplicateCheck = _duplicateCheck,
            OutOfOrder = outOfOrder,
            SplitKeys = splitKeys,
            DroppedByPolicy = dropped,
            DeliveredInGaps = deliveredInGaps,
            GapMarkerCount = gapCount,
            GapMarkers = _gaps.Count,
            UnacknowledgedDelivered = unacknowledged,
            LatencyMaxMs = latencies.Count == 0 ? 0 : latencies[^1],
            LatencyP99Ms = Percentile(latencies, 0.99),
            LatencyP50Ms = Percentile(latencies, 0.50),
            Lanes = lanes,
            Failures = failures.Messages,
            FailuresOmitted = failures.Omitted,
            Notes = notes,
        };
    }

    /// <summary>
    /// Two copies of one record whose provenance names two different offsets of the same edge partition, and the edge
    /// holds the record at both (read back through <see cref="EdgeLookup"/>): the edge broker stored it twice (a
    /// producer retry across an edge restart), and the forwarder delivered each edge record once.
    /// </summary>
    private bool IsEdgeDuplicate(string key, long sequence, Provenance? a, Provenance? b) =>
        EdgeLookup is { } lookup && a is { } x && b is { } y && x.Topic == y.Topic && x.Partition == y.Partition && x.Offset != y.Offset
        && lookup(x) == (key, sequence) && lookup(y) == (key, sequence);

    private static long Percentile(List<long> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Describe(Provenance? p) => p is { } v ? v.ToString() : "none";

    /// <summary>"seq 17-19, 25 (edge t/2 offsets 100-102, 108)": consecutive sequence numbers collapsed into ranges.</summary>
    private static string DescribeMissing(List<ProducedRecord> missing)
    {
        missing.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        var seqs = new StringBuilder();
        var offsets = new StringBuilder();
        var i = 0;
        var ranges = 0;
        while (i < missing.Count)
        {
            var j = i;
            while (j + 1 < missing.Count && missing[j + 1].Sequence == missing[j].Sequence + 1)
            {
                j++;
            }

            if (ranges++ > 0)
            {
                seqs.Append(", ");
                offsets.Append(", ");
            }

            if (ranges > 10)
            {
                seqs.Append("...");
                offsets.Append("...");
                break;
            }

            seqs.Append(Range(missing[i].Sequence, missing[j].Sequence));
            offsets.Append(CultureInfo.InvariantCulture, $"{missing[i].EdgeTopic}/{missing[i].EdgePartition}@{Range(missing[i].EdgeOffset, missing[j].EdgeOffset)}");
            i = j + 1;
        }

        return $"{missing.Count} record(s), seq {seqs} (edge {offsets})";
    }

    private static string Range(long a, long b) => a == b ? a.ToString(CultureInfo.InvariantCulture) : $"{a.ToString(CultureInfo.InvariantCulture)}-{b.ToString(CultureInfo.InvariantCulture)}";

    private sealed class Failures
    {
        private readonly Dictionary<string, int> _perCheck = new(StringComparer.Ordinal);

        public List<string> Messages { get; } = [];

        public int Omitted { get; private set; }

        public void Add(string check, string message)
        {
            _perCheck.TryGetValue(check, out var n);
            _perCheck[check] = n + 1;
            if (n < MaxMessagesPerCheck)
            {
                Messages.Add(message);
            }
            else
            {
                Omitted++;
                if (n == MaxMessagesPerCheck)
                {
                    // Keep Passed false and say that more exist, even when only the count is kept.
                    Messages.Add($"({check}: further messages omitted, see the counts)");
                }
            }
        }
    }

    private sealed class GapIndex
    {
        private readonly Dictionary<(string Topic, int Partition), List<GapRange>> _ranges = [];

        public static GapIndex Build(IEnumerable<GapMarker> markers)
        {
            var index = new GapIndex();
            foreach (var m in markers)
            {
                foreach (var r in m.Ranges)
                {
                    if (!index._ranges.TryGetValue((r.Topic, r.Partition), out var list))
                    {
                        index._ranges[(r.Topic, r.Partition)] = list = [];
                    }

                    list.Add(r);
                }
            }

            return index;
        }

        public bool Covers(string topic, int partition, long offset) =>
            _ranges.TryGetValue((topic, partition), out var list) && list.Exists(r => offset >= r.FirstOffset && offset <= r.LastOffset);
    }
}
