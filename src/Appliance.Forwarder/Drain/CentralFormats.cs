using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Appliance.Buffer;
using Appliance.Core.Records;
using Confluent.Kafka;

namespace Appliance.Forwarder.Drain;

/// <summary>Names of the provenance headers added to every forwarded record (values are UTF-8 text).</summary>
public static class ProvenanceHeaders
{
    /// <summary>Site id.</summary>
    public const string Site = "edge.site";

    /// <summary>Source (edge) topic.</summary>
    public const string Topic = "edge.topic";

    /// <summary>Source partition, decimal.</summary>
    public const string Partition = "edge.partition";

    /// <summary>Source offset, decimal.</summary>
    public const string Offset = "edge.offset";

    /// <summary>Source timestamp, Unix epoch milliseconds, decimal.</summary>
    public const string Timestamp = "edge.timestamp";

    /// <summary>Buffer lane the record travelled in.</summary>
    public const string Lane = "edge.lane";

    private static readonly byte[][] SmallNumbers = [.. Enumerable.Range(0, 256).Select(i => Encoding.ASCII.GetBytes(i.ToString(CultureInfo.InvariantCulture)))];

    /// <summary>Builds the Kafka headers of a forwarded record: its own headers, then the provenance headers.</summary>
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

        // Per-record cost matters here (every forwarded record carries these): topic names and small partition
        // numbers are encoded once; header values are copied by the client, so shared arrays are safe.
        h.Add(Site, site);
        h.Add(Topic, topic);
        h.Add(Partition, record.Source.Partition < SmallNumbers.Length ? SmallNumbers[record.Source.Partition] : Decimal(record.Source.Partition));
        h.Add(Offset, Decimal(record.Source.Offset));
        h.Add(Timestamp, Decimal(record.TimestampMs));
        h.Add(Lane, lane);
        return h;
    }

    private static byte[] Decimal(long value)
    {
        Span<byte> buffer = stackalloc byte[20];
        System.Buffers.Text.Utf8Formatter.TryFormat(value, buffer, out var written);
        return buffer[..written].ToArray();
    }
}

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
