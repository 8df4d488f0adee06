namespace Appliance.Chaos.Verification;

/// <summary>A record the edge broker acknowledged (the load generator's delivery report), so it must reach central.</summary>
/// <param name="Lane">Lane (route) the record's edge topic belongs to.</param>
/// <param name="Key">Record key.</param>
/// <param name="Sequence">Per-key sequence number.</param>
/// <param name="EdgeTopic">Edge topic.</param>
/// <param name="EdgePartition">Edge partition.</param>
/// <param name="EdgeOffset">Edge offset (what gap markers name).</param>
/// <param name="ProducedAtMs">Produce time, Unix epoch milliseconds.</param>
public sealed record ProducedRecord(string Lane, string Key, long Sequence, string EdgeTopic, int EdgePartition, long EdgeOffset, long ProducedAtMs);

/// <summary>The source position a forwarded record names in its provenance header.</summary>
/// <param name="Topic">Edge topic (from the <c>edge.provenance</c> header).</param>
/// <param name="Partition">Edge partition (from the <c>edge.provenance</c> header).</param>
/// <param name="Offset">Edge offset (from the <c>edge.provenance</c> header).</param>
public readonly record struct Provenance(string Topic, int Partition, long Offset)
{
    /// <inheritdoc />
    public override string ToString() => $"{Topic}/{Partition}@{Offset}";
}

/// <summary>One copy of a chaos record read at central.</summary>
/// <param name="Topic">Central topic.</param>
/// <param name="Partition">Central partition.</param>
/// <param name="Offset">Central offset.</param>
/// <param name="Key">Record key (from the value).</param>
/// <param name="Sequence">Per-key sequence number (from the value).</param>
/// <param name="ProducedAtMs">Produce time from the value, Unix epoch milliseconds.</param>
/// <param name="ArrivedAtMs">When the verifier first read it at central, Unix epoch milliseconds (an upper bound of the append time).</param>
/// <param name="Source">Provenance headers, or null when the record has none.</param>
public sealed record DeliveredRecord(string Topic, int Partition, long Offset, string Key, long Sequence, long ProducedAtMs, long ArrivedAtMs, Provenance? Source)
{
    /// <summary>Where it is at central, <c>topic/partition@offset</c>.</summary>
    public string Position => $"{Topic}/{Partition}@{Offset}";
}

/// <summary>One source range of a gap marker.</summary>
/// <param name="Topic">Edge topic.</param>
/// <param name="Partition">Edge partition.</param>
/// <param name="FirstOffset">First dropped offset (inclusive).</param>
/// <param name="LastOffset">Last dropped offset (inclusive).</param>
/// <param name="Count">Records dropped within the range.</param>
public sealed record GapRange(string Topic, int Partition, long FirstOffset, long LastOffset, long Count);

/// <summary>A gap marker read from the central gap topic (the forwarder's accounted, policy-driven loss).</summary>
/// <param name="Lane">Lane whose records were dropped.</param>
/// <param name="Reason">Why (e.g. <c>drop-oldest</c>, <c>ttl</c>).</param>
/// <param name="Count">Records dropped.</param>
/// <param name="Ranges">Source ranges of the dropped records.</param>
/// <param name="Identity">The marker's raw JSON: identical copies (redeliveries) count once.</param>
public sealed record GapMarker(string Lane, string Reason, long Count, IReadOnlyList<GapRange> Ranges, string Identity);

/// <summary>How duplicates at central are judged.</summary>
public enum DuplicateCheck
{
    /// <summary>Any second copy fails the run (exactly-once delivery read with read_committed from a real cluster, or a run without transaction aborts).</summary>
    Strict,

    /// <summary>
    /// At-least-once delivery: second copies with the same provenance (edge topic/partition/offset) are redeliveries a
    /// consumer removes by provenance; they are counted, not failed. Copies with different provenance fail.
    /// </summary>
    ProvenanceDedup,

    /// <summary>
    /// Exactly-once delivery on the librdkafka mock with faults that abort transactions: the mock shows aborted and open
    /// transactions to read_committed consumers, so a second copy with the same provenance may be an aborted attempt a
    /// real cluster would hide. Such copies are counted and reported as not checkable; copies with different provenance fail.
    /// </summary>
    NotCheckableOnMock,
}
