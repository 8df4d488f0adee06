namespace Appliance.Core.Records;

/// <summary>
/// A record taken from the edge broker (after pre-processing), as it is stored in the buffer and forwarded.
/// Immutable by convention: the arrays are not copied, so callers must not change them after construction.
/// </summary>
public sealed class EdgeRecord
{
    /// <summary>Creates a record.</summary>
    /// <param name="source">The edge position the record was read from.</param>
    /// <param name="timestampMs">The source timestamp, Unix epoch milliseconds.</param>
    /// <param name="key">The record key, or null.</param>
    /// <param name="value">The record value, or null (a tombstone).</param>
    /// <param name="headers">The record headers; empty when null.</param>
    /// <param name="destinationTopic">The central topic chosen by the route, or null to let the drain apply its default template.</param>
    public EdgeRecord(
        SourcePosition source,
        long timestampMs,
        byte[]? key,
        byte[]? value,
        IReadOnlyList<RecordHeader>? headers = null,
        string? destinationTopic = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(source.Topic, nameof(source));
        ArgumentOutOfRangeException.ThrowIfNegative(source.Partition, nameof(source));
        ArgumentOutOfRangeException.ThrowIfNegative(source.Offset, nameof(source));
        Source = source;
        TimestampMs = timestampMs;
        Key = key;
        Value = value;
        Headers = headers ?? [];
        DestinationTopic = destinationTopic;
    }

    /// <summary>The edge position the record was read from.</summary>
    public SourcePosition Source { get; }

    /// <summary>The source timestamp, Unix epoch milliseconds.</summary>
    public long TimestampMs { get; }

    /// <summary>The record key, or null.</summary>
    public byte[]? Key { get; }

    /// <summary>The record value, or null.</summary>
    public byte[]? Value { get; }

    /// <summary>The record headers, in order.</summary>
    public IReadOnlyList<RecordHeader> Headers { get; }

    /// <summary>The central topic chosen by the route, or null for the drain's default template.</summary>
    public string? DestinationTopic { get; }

    /// <summary>Approximate payload size in bytes (key, value, header names and values), used for scheduling and rate limits.</summary>
    public int PayloadBytes
    {
        get
        {
            var n = (Key?.Length ?? 0) + (Value?.Length ?? 0);
            foreach (var h in Headers)
            {
                n += h.Key.Length + (h.Value?.Length ?? 0);
            }

            return n;
        }
    }
}
