using Appliance.Core.Records;

namespace Appliance.Buffer;

/// <summary>
/// A buffered record read in place from its batch's buffer, without copying key, value or headers into arrays of
/// their own (<see cref="LaneBatch.TryReadRecord"/>): what a sender needs to hand the record on, e.g. to a native
/// client that copies it anyway. Valid only while its batch's delivery lease lasts (the buffer is then reused);
/// <see cref="LaneBatch.Entries"/> gives owned copies instead.
/// </summary>
public readonly ref struct RecordView
{
    private readonly ReadOnlySpan<byte> _headers;
    private readonly StringCache? _strings;

    internal RecordView(string sourceTopic, int partition, long offset, long timestampMs, string? destinationTopic, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, int headerCount, ReadOnlySpan<byte> headers, StringCache? strings)
    {
        SourceTopic = sourceTopic;
        Partition = partition;
        Offset = offset;
        TimestampMs = timestampMs;
        DestinationTopic = destinationTopic;
        Key = key;
        KeyIsNull = keyIsNull;
        Value = value;
        ValueIsNull = valueIsNull;
        HeaderCount = headerCount;
        _headers = headers;
        _strings = strings;
    }

    /// <summary>The edge topic the record was read from.</summary>
    public string SourceTopic { get; }

    /// <summary>The edge partition.</summary>
    public int Partition { get; }

    /// <summary>The edge offset.</summary>
    public long Offset { get; }

    /// <summary>The source timestamp, Unix epoch milliseconds.</summary>
    public long TimestampMs { get; }

    /// <summary>The central topic the route chose, or null for the drain's default template.</summary>
    public string? DestinationTopic { get; }

    /// <summary>The key's bytes (empty when <see cref="KeyIsNull"/>).</summary>
    public ReadOnlySpan<byte> Key { get; }

    /// <summary>Whether the key is null (as opposed to empty).</summary>
    public bool KeyIsNull { get; }

    /// <summary>The value's bytes (empty when <see cref="ValueIsNull"/>).</summary>
    public ReadOnlySpan<byte> Value { get; }

    /// <summary>Whether the value is null (a tombstone), as opposed to empty.</summary>
    public bool ValueIsNull { get; }

    /// <summary>The number of the record's own headers.</summary>
    public int HeaderCount { get; }

    /// <summary>The record's own headers, in order, as new objects (an empty array when there are none).</summary>
    public RecordHeader[] ReadHeaders() => EntryCodec.ReadHeaders(_headers, HeaderCount, _strings);
}
