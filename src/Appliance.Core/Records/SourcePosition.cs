namespace Appliance.Core.Records;

/// <summary>
/// Where a record came from on the edge broker: topic, partition and offset.
/// The buffer, not the edge consumer group, is the source of truth for these positions.
/// </summary>
/// <param name="Topic">The edge topic name.</param>
/// <param name="Partition">The edge partition number (zero or more).</param>
/// <param name="Offset">The edge offset of the record (zero or more).</param>
public readonly record struct SourcePosition(string Topic, int Partition, long Offset)
{
    /// <summary>The partition this position belongs to.</summary>
    public SourcePartition SourcePartition => new(Topic, Partition);

    /// <inheritdoc />
    public override string ToString() => $"{Topic}[{Partition}]@{Offset}";
}

/// <summary>An edge topic partition.</summary>
/// <param name="Topic">The edge topic name.</param>
/// <param name="Partition">The partition number.</param>
public readonly record struct SourcePartition(string Topic, int Partition)
{
    /// <inheritdoc />
    public override string ToString() => $"{Topic}[{Partition}]";
}
