using System.Text;
using System.Text.Json;

namespace Appliance.Chaos.Verification;

/// <summary>
/// Parses the forwarder's gap-marker JSON (docs/forwarder.md): <c>{"site","lane","reason","count",
/// "first_dropped_at_ms","last_dropped_at_ms","ranges":[{"topic","partition","first_offset","last_offset","count"}]}</c>.
/// </summary>
public static class GapMarkerParser
{
    /// <summary>Parses one gap-topic value; null (and a reason) when it is not a gap marker.</summary>
    public static GapMarker? TryParse(ReadOnlySpan<byte> json, out string? error)
    {
        error = null;
        try
        {
            var reader = new Utf8JsonReader(json);
            using var doc = JsonDocument.ParseValue(ref reader);
            var r = doc.RootElement;
            var ranges = new List<GapRange>();
            if (r.TryGetProperty("ranges", out var arr))
            {
                foreach (var e in arr.EnumerateArray())
                {
                    ranges.Add(new GapRange(
                        e.GetProperty("topic").GetString() ?? "",
                        e.GetProperty("partition").GetInt32(),
                        e.GetProperty("first_offset").GetInt64(),
                        e.GetProperty("last_offset").GetInt64(),
                        e.GetProperty("count").GetInt64()));
                }
            }

            return new GapMarker(
                r.GetProperty("lane").GetString() ?? "",
                r.TryGetProperty("reason", out var reason) ? reason.GetString() ?? "" : "",
                r.GetProperty("count").GetInt64(),
                ranges,
                Encoding.UTF8.GetString(json));
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            error = e.Message;
            return null;
        }
    }
}
