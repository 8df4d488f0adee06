using System.Buffers;
using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Appliance.Buffer;
using Appliance.Core.Records;
using Confluent.Kafka;

namespace Appliance.Forwarder.Drain;

/// <summary>
/// The provenance header added to every forwarded record: <c>edge.provenance</c>, value
/// <c>{site}/{topic}/{partition}/{offset}/{timestamp}/{lane}</c> in UTF-8 (partition, offset and the source timestamp
/// in Unix milliseconds as decimals). '/' cannot occur in a site id, a Kafka topic name or a lane name, so the value
/// splits unambiguously; a reader takes the first six fields and ignores any that a later version appends.
/// </summary>
public static class ProvenanceHeaders
{
    /// <summary>The header's name.</summary>
    public const string Name = "edge.provenance";

    /// <summary>The field separator.</summary>
    public const byte Separator = (byte)'/';

    /// <summary>Longest value: a 63-character site, a 249-character topic, a 32-character lane, three numbers, five separators.</summary>
    public const int MaxValueLength = 63 + 249 + 32 + 11 + 20 + 20 + 5;

    /// <summary>Builds the Kafka headers of a forwarded record: its own headers, then the provenance header.</summary>
    public static Headers Build(EdgeRecord record, byte[] site, byte[] lane)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Build(record, site, Encoding.UTF8.GetBytes(record.Source.Topic), lane);
    }

    /// <summary>As <see cref="Build(EdgeRecord, byte[], byte[])"/>, with the source topic's UTF-8 bytes given (a per-record path encodes them once per topic).</summary>
    public static Headers Build(EdgeRecord record, byte[] site, byte[] topic, byte[] lane)
    {
        ArgumentNullException.ThrowIfNull(record);
        var h = new Headers();
        foreach (var rh in record.Headers)
        {
            h.Add(rh.Key, rh.Value);
        }

        Span<byte> value = stackalloc byte[MaxValueLength];
        var n = Write(value, site, topic, record.Source.Partition, record.Source.Offset, record.TimestampMs, lane);
        h.Add(Name, value[..n].ToArray());
        return h;
    }

    /// <summary>Writes the header's value into <paramref name="destination"/> (at least <see cref="MaxValueLength"/> bytes for any valid input) and returns its length.</summary>
    public static int Write(Span<byte> destination, ReadOnlySpan<byte> site, ReadOnlySpan<byte> topic, int partition, long offset, long timestampMs, ReadOnlySpan<byte> lane)
    {
        var n = 0;
        Field(destination, ref n, site);
        Field(destination, ref n, topic);
        Number(destination, ref n, partition);
        Number(destination, ref n, offset);
        Number(destination, ref n, timestampMs);
        lane.CopyTo(destination[n..]);
        return n + lane.Length;
    }

    /// <summary>
    /// Reads a value written by <see cref="Write"/>: false when it has fewer than six fields, a number does not parse
    /// or a name is empty.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out Provenance provenance)
    {
        provenance = default;
        Span<Range> fields = stackalloc Range[6];
        var count = 0;
        foreach (var field in value.Split(Separator))
        {
            fields[count++] = field;
            if (count == fields.Length)
            {
                break;
            }
        }

        if (count < 6)
        {
            return false;
        }

        var site = value[fields[0]];
        var topic = value[fields[1]];
        var lane = value[fields[5]];
        if (site.IsEmpty || topic.IsEmpty || lane.IsEmpty
            || !Utf8Parser.TryParse(value[fields[2]], out int partition, out var pn) || pn != value[fields[2]].Length
            || !Utf8Parser.TryParse(value[fields[3]], out long offset, out var on) || on != value[fields[3]].Length
            || !Utf8Parser.TryParse(value[fields[4]], out long timestamp, out var tn) || tn != value[fields[4]].Length)
        {
            return false;
        }

        provenance = new Provenance(Encoding.UTF8.GetString(site), Encoding.UTF8.GetString(topic), partition, offset, timestamp, Encoding.UTF8.GetString(lane));
        return true;
    }

    /// <summary>Reads the provenance header of <paramref name="headers"/> (the last one of that name); false when it is missing or malformed.</summary>
    public static bool TryRead(Headers? headers, out Provenance provenance)
    {
        provenance = default;
        return headers is not null && headers.TryGetLastBytes(Name, out var value) && TryParse(value, out provenance);
    }

    private static void Field(Span<byte> destination, ref int n, ReadOnlySpan<byte> field)
    {
        field.CopyTo(destination[n..]);
        n += field.Length;
        destination[n++] = Separator;
    }

    private static void Number(Span<byte> destination, ref int n, long value)
    {
        Utf8Formatter.TryFormat(value, destination[n..], out var written);
        n += written;
        destination[n++] = Separator;
    }
}

/// <summary>Where a forwarded record came from, as its provenance header says.</summary>
/// <param name="Site">Site id.</param>
/// <param name="Topic">Source (edge) topic.</param>
/// <param name="Partition">Source partition.</param>
/// <param name="Offset">Source offset.</param>
/// <param name="TimestampMs">Source timestamp, Unix epoch milliseconds.</param>
/// <param name="Lane">Buffer lane the record travelled in.</param>
public readonly record struct Provenance(string Site, string Topic, int Partition, long Offset, long TimestampMs, string Lane);

/// <summary>
/// A drain checkpoint: how far central has a lane of one buffer incarnation. Key <c>{site}/{lane}</c>; value JSON
/// <c>{"v":1,"site":..,"lane":..,"incarnation":..,"next_address":..,"batch_start":..,"batch_records":..,"committed_at_ms":..}</c>.
/// </summary>
/// <param name="Site">Site id.</param>
/// <param name="Lane">Lane name.</param>
/// <param name="Incarnation">Buffer incarnation the addresses belong to.</param>
/// <param name="NextAddress">Buffer address right after the last entry central has.</param>
/// <param name="BatchStart">Address of the first entry of the batch this checkpoint was committed with.</param>
/// <param name="BatchRecords">Records in that batch.</param>
/// <param name="CommittedAtMs">When the transaction was started, Unix ms.</param>
public sealed record Checkpoint(string Site, string Lane, string Incarnation, long NextAddress, long BatchStart, int BatchRecords, long CommittedAtMs)
{
    /// <summary>The record key for a site's lane.</summary>
    public static string KeyOf(string site, string lane) => $"{site}/{lane}";

    /// <summary>Serializes the value.</summary>
    public byte[] ToJson()
    {
        var buffer = new ArrayBufferWriter<byte>(256);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("v", 1);
            w.WriteString("site", Site);
            w.WriteString("lane", Lane);
            w.WriteString("incarnation", Incarnation);
            w.WriteNumber("next_address", NextAddress);
            w.WriteNumber("batch_start", BatchStart);
            w.WriteNumber("batch_records", BatchRecords);
            w.WriteNumber("committed_at_ms", CommittedAtMs);
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses a value; null when it is not a version-1 checkpoint.</summary>
    public static Checkpoint? Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var r = doc.RootElement;
            if (r.GetProperty("v").GetInt32() != 1)
            {
                return null;
            }

            return new Checkpoint(
                r.GetProperty("site").GetString() ?? "",
                r.GetProperty("lane").GetString() ?? "",
                r.GetProperty("incarnation").GetString() ?? "",
                r.GetProperty("next_address").GetInt64(),
                r.GetProperty("batch_start").GetInt64(),
                r.GetProperty("batch_records").GetInt32(),
                r.GetProperty("committed_at_ms").GetInt64());
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }
}

/// <summary>
/// The JSON value of a gap-marker control record (key = lane), sent to the gap topic in the same transaction as
/// the records around it.
/// </summary>
public static class GapMarkerFormat
{
    /// <summary>Serializes a marker: <c>{"site","lane","reason","count","first_dropped_at_ms","last_dropped_at_ms","ranges":[{"topic","partition","first_offset","last_offset","count"}]}</c>.</summary>
    public static byte[] ToJson(string site, GapMarker gap)
    {
        ArgumentNullException.ThrowIfNull(gap);
        var buffer = new ArrayBufferWriter<byte>(256 + (gap.Ranges.Count * 96));
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("site", site);
            w.WriteString("lane", gap.Lane);
            w.WriteString("reason", gap.Reason.ToLabel());
            w.WriteNumber("count", gap.Count);
            w.WriteNumber("first_dropped_at_ms", gap.FirstDroppedAtMs);
            w.WriteNumber("last_dropped_at_ms", gap.LastDroppedAtMs);
            w.WriteStartArray("ranges");
            foreach (var r in gap.Ranges)
            {
                w.WriteStartObject();
                w.WriteString("topic", r.Topic);
                w.WriteNumber("partition", r.Partition);
                w.WriteNumber("first_offset", r.FirstOffset);
                w.WriteNumber("last_offset", r.LastOffset);
                w.WriteNumber("count", r.Count);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }
}
