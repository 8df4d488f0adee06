using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using System.Text;
using Appliance.Core.Records;

namespace Appliance.Buffer;

/// <summary>What a stored entry holds.</summary>
public enum EntryKind : byte
{
    /// <summary>A forwarded record.</summary>
    Record = 1,

    /// <summary>A gap marker (accounted loss).</summary>
    Gap = 2,
}

/// <summary>One entry read back from a lane: a record or a gap marker, with its buffer addresses.</summary>
public sealed class BufferEntry
{
    internal BufferEntry(long address, long nextAddress, long appendedAtMs, EdgeRecord? record, GapMarker? gap)
    {
        Address = address;
        NextAddress = nextAddress;
        AppendedAtMs = appendedAtMs;
        Record = record;
        Gap = gap;
    }

    /// <summary>The entry's logical address in its lane log (stable across restarts).</summary>
    public long Address { get; }

    /// <summary>The address right after this entry.</summary>
    public long NextAddress { get; }

    /// <summary>When the entry was buffered, Unix ms (drives TTL).</summary>
    public long AppendedAtMs { get; }

    /// <summary>Record or gap.</summary>
    public EntryKind Kind => Record is null ? EntryKind.Gap : EntryKind.Record;

    /// <summary>The record, when <see cref="Kind"/> is <see cref="EntryKind.Record"/>.</summary>
    public EdgeRecord? Record { get; }

    /// <summary>The gap marker, when <see cref="Kind"/> is <see cref="EntryKind.Gap"/>.</summary>
    public GapMarker? Gap { get; }
}

/// <summary>
/// Binary layout of one log entry (unchanged since buffer format 1; docs/buffer.md, "On-disk format"). FASTER adds its own entry header
/// with length and a per-entry checksum around it.
/// </summary>
internal static class EntryCodec
{
    public static void WriteRecord(IBufferWriter<byte> w, EdgeRecord r, long appendedAtMs) =>
        WriteRecord(w, r.Source, r.TimestampMs, r.DestinationTopic, r.Key, r.Key is null, r.Value, r.Value is null, r.Headers, appendedAtMs);

    /// <summary>A record given by its parts (key and value as spans, null kept apart from empty by the flags).</summary>
    public static void WriteRecord(IBufferWriter<byte> w, SourcePosition source, long timestampMs, string? destinationTopic, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, IReadOnlyList<RecordHeader> headers, long appendedAtMs)
    {
        var size = 1 + 8 + 8 + 4 + 8 + StrSize(source.Topic) + NullableStrSize(destinationTopic)
            + 5 + key.Length + 5 + value.Length + 5 + CrcBytes;
        foreach (var h in headers)
        {
            size += StrSize(h.Key) + NullableBytesSize(h.Value);
        }

        var span = w.GetSpan(size);
        var p = 0;
        span[p++] = (byte)EntryKind.Record;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], appendedAtMs);
        p += 8;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], timestampMs);
        p += 8;
        BinaryPrimitives.WriteInt32LittleEndian(span[p..], source.Partition);
        p += 4;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], source.Offset);
        p += 8;
        p += WriteStr(span[p..], source.Topic);
        p += WriteNullableStr(span[p..], destinationTopic);
        p += WriteNullableBytes(span[p..], key, keyIsNull);
        p += WriteNullableBytes(span[p..], value, valueIsNull);
        p += WriteVarint(span[p..], (uint)headers.Count);
        foreach (var h in headers)
        {
            p += WriteStr(span[p..], h.Key);
            p += WriteNullableBytes(span[p..], h.Value, h.Value is null);
        }

        p += WriteCrc(span, p);
        w.Advance(p);
    }

    public static void WriteGap(IBufferWriter<byte> w, GapMarker g, long appendedAtMs)
    {
        var size = 1 + 8 + 1 + 8 + 8 + 5 + CrcBytes;
        foreach (var r in g.Ranges)
        {
            size += StrSize(r.Topic) + 4 + 8 + 8 + 8;
        }

        var span = w.GetSpan(size);
        var p = 0;
        span[p++] = (byte)EntryKind.Gap;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], appendedAtMs);
        p += 8;
        span[p++] = (byte)g.Reason;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], g.FirstDroppedAtMs);
        p += 8;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], g.LastDroppedAtMs);
        p += 8;
        p += WriteVarint(span[p..], (uint)g.Ranges.Count);
        foreach (var r in g.Ranges)
        {
            p += WriteStr(span[p..], r.Topic);
            BinaryPrimitives.WriteInt32LittleEndian(span[p..], r.Partition);
            p += 4;
            BinaryPrimitives.WriteInt64LittleEndian(span[p..], r.FirstOffset);
            p += 8;
            BinaryPrimitives.WriteInt64LittleEndian(span[p..], r.LastOffset);
            p += 8;
            BinaryPrimitives.WriteInt64LittleEndian(span[p..], r.Count);
            p += 8;
        }

        p += WriteCrc(span, p);
        w.Advance(p);
    }

    /// <summary>Decodes an entry; throws <see cref="FormatException"/> when the bytes are not a valid version-1 entry.</summary>
    public static BufferEntry Read(ReadOnlySpan<byte> entry, long address, long nextAddress, string lane, StringCache? strings = null)
    {
        Verify(entry);
        return Decode(entry, address, nextAddress, lane, strings);
    }

    /// <summary>
    /// Checks an entry's own CRC and returns its kind; throws <see cref="FormatException"/> when it does not match or
    /// the kind is unknown. Our own CRC: FASTER verifies its checksum only for pages read from disk, not for the tail
    /// page that recovery loads into memory, and corruption must never pass unnoticed.
    /// </summary>
    public static EntryKind Verify(ReadOnlySpan<byte> entry)
    {
        Expect(entry.Length > CrcBytes, "entry too short");
        var s = entry[..^CrcBytes];
        Expect(Crc32.HashToUInt32(s) == BinaryPrimitives.ReadUInt32LittleEndian(entry[^CrcBytes..]), "CRC mismatch");
        var kind = (EntryKind)s[0];
        // Not Expect: its message would be formatted for every entry, valid or not (a string per record read).
        if (kind is not (EntryKind.Record or EntryKind.Gap))
        {
            throw new FormatException($"unknown entry kind {(byte)kind}");
        }

        return kind;
    }

    /// <summary>Decodes an entry that <see cref="Verify"/> accepted; throws <see cref="FormatException"/> when its layout is invalid.</summary>
    public static BufferEntry Decode(ReadOnlySpan<byte> entry, long address, long nextAddress, string lane, StringCache? strings = null)
    {
        var s = entry[..^CrcBytes];
        var p = 0;
        var kind = (EntryKind)s[p++];
        var appendedAt = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
        p += 8;
        switch (kind)
        {
            case EntryKind.Record:
                {
                    var view = ReadRecord(s, p, strings);
                    var rec = new EdgeRecord(new SourcePosition(view.SourceTopic, view.Partition, view.Offset), view.TimestampMs,
                        view.KeyIsNull ? null : view.Key.ToArray(), view.ValueIsNull ? null : view.Value.ToArray(), view.ReadHeaders(), view.DestinationTopic);
                    return new BufferEntry(address, nextAddress, appendedAt, rec, null);
                }

            case EntryKind.Gap:
                {
                    var reason = (DropReason)s[p++];
                    Expect(Enum.IsDefined(reason), "unknown drop reason");
                    var first = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
                    p += 8;
                    var last = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
                    p += 8;
                    var n = (int)ReadVarint(s, ref p);
                    var ranges = new GapRange[n];
                    for (var i = 0; i < n; i++)
                    {
                        var t = ReadStr(s, ref p);
                        var part = BinaryPrimitives.ReadInt32LittleEndian(s[p..]);
                        p += 4;
                        var fo = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
                        p += 8;
                        var lo = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
                        p += 8;
                        var c = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
                        p += 8;
                        ranges[i] = new GapRange(t, part, fo, lo, c);
                    }

                    Expect(p == s.Length, "trailing bytes after gap marker");
                    return new BufferEntry(address, nextAddress, appendedAt, null, new GapMarker(lane, reason, ranges, first, last));
                }

            default:
                throw new FormatException($"unknown entry kind {(byte)kind}");
        }
    }

    /// <summary>
    /// A record entry that <see cref="Verify"/> accepted, read in place (see <see cref="RecordView"/>); throws
    /// <see cref="FormatException"/> when it is not a record or its layout is invalid.
    /// </summary>
    public static RecordView ReadRecord(ReadOnlySpan<byte> entry, StringCache strings)
    {
        var s = entry[..^CrcBytes];
        Expect((EntryKind)s[0] == EntryKind.Record, "not a record entry");
        return ReadRecord(s, 1 + 8, strings);
    }

    // s: the entry without its CRC; p: after the kind and the appended-at time.
    private static RecordView ReadRecord(ReadOnlySpan<byte> s, int p, StringCache? strings)
    {
        var ts = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
        p += 8;
        var partition = BinaryPrimitives.ReadInt32LittleEndian(s[p..]);
        p += 4;
        var offset = BinaryPrimitives.ReadInt64LittleEndian(s[p..]);
        p += 8;
        var topic = ReadStr(s, ref p, strings);
        var dest = ReadNullableStr(s, ref p, strings);
        var key = ReadNullableSpan(s, ref p, out var keyIsNull);
        var value = ReadNullableSpan(s, ref p, out var valueIsNull);
        var hc = (int)ReadVarint(s, ref p);
        var headers = s[p..];
        for (var i = 0; i < hc; i++)
        {
            // Only validated here; names and values are decoded by ReadHeaders when a caller wants them.
            _ = ReadStrBytes(s, ref p);
            _ = ReadNullableSpan(s, ref p, out _);
        }

        Expect(p == s.Length, "trailing bytes after record");
        return new RecordView(topic, partition, offset, ts, dest, key, keyIsNull, value, valueIsNull, hc, headers, strings);
    }

    /// <summary>The <paramref name="count"/> headers encoded at the start of <paramref name="s"/> (already validated).</summary>
    internal static RecordHeader[] ReadHeaders(ReadOnlySpan<byte> s, int count, StringCache? strings)
    {
        if (count == 0)
        {
            return [];
        }

        var headers = new RecordHeader[count];
        var p = 0;
        for (var i = 0; i < count; i++)
        {
            var name = ReadStr(s, ref p, strings);
            var value = ReadNullableSpan(s, ref p, out var isNull);
            headers[i] = new RecordHeader(name, isNull ? null : value.ToArray());
        }

        return headers;
    }

    private const int CrcBytes = 4;

    private static int WriteCrc(Span<byte> span, int length)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(span[length..], Crc32.HashToUInt32(span[..length]));
        return CrcBytes;
    }

    private static void Expect(bool ok, string what)
    {
        if (!ok)
        {
            throw new FormatException(what);
        }
    }

    private static int StrSize(string s) => 5 + Encoding.UTF8.GetByteCount(s);

    private static int NullableStrSize(string? s) => s is null ? 1 : StrSize(s);

    private static int NullableBytesSize(byte[]? b) => 5 + (b?.Length ?? 0);

    private static int WriteVarint(Span<byte> s, uint v)
    {
        var i = 0;
        while (v >= 0x80)
        {
            s[i++] = (byte)(v | 0x80);
            v >>= 7;
        }

        s[i++] = (byte)v;
        return i;
    }

    private static uint ReadVarint(ReadOnlySpan<byte> s, ref int p)
    {
        uint v = 0;
        for (var shift = 0; shift < 35; shift += 7)
        {
            var b = s[p++];
            v |= (uint)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return v;
            }
        }

        throw new FormatException("varint too long");
    }

    private static int WriteStr(Span<byte> s, string v)
    {
        var n = Encoding.UTF8.GetByteCount(v);
        var p = WriteVarint(s, (uint)n);
        return p + Encoding.UTF8.GetBytes(v, s[p..]);
    }

    // Nullable values store length + 1, so 0 means null.
    private static int WriteNullableStr(Span<byte> s, string? v)
    {
        if (v is null)
        {
            s[0] = 0;
            return 1;
        }

        var n = Encoding.UTF8.GetByteCount(v);
        var p = WriteVarint(s, (uint)n + 1);
        return p + Encoding.UTF8.GetBytes(v, s[p..]);
    }

    private static int WriteNullableBytes(Span<byte> s, ReadOnlySpan<byte> v, bool isNull)
    {
        if (isNull)
        {
            s[0] = 0;
            return 1;
        }

        var p = WriteVarint(s, (uint)v.Length + 1);
        v.CopyTo(s[p..]);
        return p + v.Length;
    }

    private static string ReadStr(ReadOnlySpan<byte> s, ref int p, StringCache? strings = null)
    {
        var bytes = ReadStrBytes(s, ref p);
        return strings is null ? Encoding.UTF8.GetString(bytes) : strings.Get(bytes);
    }

    private static ReadOnlySpan<byte> ReadStrBytes(ReadOnlySpan<byte> s, scoped ref int p)
    {
        var n = (int)ReadVarint(s, ref p);
        var bytes = s.Slice(p, n);
        p += n;
        return bytes;
    }

    private static string? ReadNullableStr(ReadOnlySpan<byte> s, ref int p, StringCache? strings = null)
    {
        var n = (int)ReadVarint(s, ref p);
        if (n == 0)
        {
            return null;
        }

        var bytes = s.Slice(p, n - 1);
        var v = strings is null ? Encoding.UTF8.GetString(bytes) : strings.Get(bytes);
        p += n - 1;
        return v;
    }

    // The bytes (possibly empty), or empty with isNull set.
    private static ReadOnlySpan<byte> ReadNullableSpan(ReadOnlySpan<byte> s, scoped ref int p, out bool isNull)
    {
        var n = (int)ReadVarint(s, ref p);
        isNull = n == 0;
        if (isNull)
        {
            return default;
        }

        var bytes = s.Slice(p, n - 1);
        p += n - 1;
        return bytes;
    }
}

/// <summary>
/// A small cache of decoded UTF-8 strings (topic names, header keys) for one reader: a handful of distinct values
/// repeat on every entry. Bounded; not thread-safe.
/// </summary>
internal sealed class StringCache
{
    private const int Capacity = 64;
    private const int MaxLength = 256;
    private readonly Dictionary<string, string> _byValue = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    // The strings returned last, with their UTF-8 bytes: an entry's strings (source topic, destination topic) are
    // almost always those of the entry before, so most calls end with a comparison of bytes instead of decoding,
    // hashing and looking up.
    private readonly (byte[] Utf8, string Value)[] _recent = new (byte[], string)[RecentSlots];
    private int _nextRecent;
    private const int RecentSlots = 4;

    public StringCache() => _lookup = _byValue.GetAlternateLookup<ReadOnlySpan<char>>();

    public string Get(ReadOnlySpan<byte> utf8)
    {
        if (utf8.Length > MaxLength)
        {
            return Encoding.UTF8.GetString(utf8);
        }

        foreach (var (bytes, value) in _recent)
        {
            if (bytes is not null && utf8.SequenceEqual(bytes))
            {
                return value;
            }
        }

        var s = Lookup(utf8);
        _recent[_nextRecent] = (utf8.ToArray(), s);
        _nextRecent = (_nextRecent + 1) % RecentSlots;
        return s;
    }

    private string Lookup(ReadOnlySpan<byte> utf8)
    {
        Span<char> chars = stackalloc char[MaxLength];
        var n = Encoding.UTF8.GetChars(utf8, chars);
        if (_lookup.TryGetValue(chars[..n], out var s))
        {
            return s;
        }

        s = new string(chars[..n]);
        if (_byValue.Count >= Capacity)
        {
            _byValue.Clear();
        }

        _byValue[s] = s;
        return s;
    }
}
