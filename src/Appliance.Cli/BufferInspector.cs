using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Appliance.Cli;

/// <summary>
/// Read-only view of a buffer directory from its files. <see cref="Appliance.Buffer.DurableBuffer"/> has no read-only
/// open (opening recovers and may write), so this reads only <c>buffer.json</c> and file sizes and times: it can never
/// modify the buffer, and it cannot show record counts or the oldest record's age (the running service can:
/// <c>appliancectl lanes</c>).
/// </summary>
public static class BufferInspector
{
    /// <summary>Where the service keeps the buffer unless configured otherwise (<c>Buffer:DataDirectory</c>).</summary>
    public const string DefaultDirectory = "/data/forwarder/buffer";

    /// <summary>The report; <paramref name="ok"/> is false when the directory is not a buffer.</summary>
    public static string Inspect(string directory, out bool ok)
    {
        ArgumentNullException.ThrowIfNull(directory);
        var sb = new StringBuilder();
        ok = false;
        if (!Directory.Exists(directory))
        {
            sb.Append(CultureInfo.InvariantCulture, $"{directory}: no such directory\n");
            return sb.ToString();
        }

        var marker = Path.Combine(directory, "buffer.json");
        sb.Append(CultureInfo.InvariantCulture, $"Buffer directory  {directory}\n");
        if (File.Exists(marker))
        {
            try
            {
                using var stream = new FileStream(marker, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                using var doc = JsonDocument.Parse(stream);
                var r = doc.RootElement;
                sb.Append(CultureInfo.InvariantCulture, $"Format            {Str(r, "Format")} version {Str(r, "Version")}\n");
                sb.Append(CultureInfo.InvariantCulture, $"Incarnation       {Str(r, "Incarnation")}\n");
                sb.Append(CultureInfo.InvariantCulture, $"Created           {Str(r, "CreatedUtc")}\n");
                ok = true;
            }
            catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
            {
                sb.Append(CultureInfo.InvariantCulture, $"buffer.json       unreadable: {e.Message}\n");
            }
        }
        else
        {
            sb.Append("buffer.json       missing: this directory was not written by the appliance buffer\n");
        }

        var lanesDir = Path.Combine(directory, "lanes");
        var rows = new List<string[]> { new[] { "LANE", "LOG FILES", "SPARE FILES", "ON DISK", "LAST COMMIT (UTC)" } };
        if (Directory.Exists(lanesDir))
        {
            foreach (var lane in Directory.EnumerateDirectories(lanesDir).OrderBy(d => d, StringComparer.Ordinal))
            {
                var files = Directory.EnumerateFiles(lane, "*", SearchOption.AllDirectories).Select(f => new FileInfo(f)).ToList();
                var logs = files.Where(f => f.Directory?.FullName == Path.GetFullPath(lane) && f.Name.StartsWith("log.", StringComparison.Ordinal)).ToList();
                var spares = logs.Count(f => f.Name.StartsWith("log.spare.", StringComparison.Ordinal));
                var commits = files.Where(f => f.FullName.Contains($"{Path.DirectorySeparatorChar}commits{Path.DirectorySeparatorChar}", StringComparison.Ordinal)).ToList();
                var lastCommit = commits.Count == 0 ? "-" : commits.Max(f => f.LastWriteTimeUtc).ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
                rows.Add([Path.GetFileName(lane), (logs.Count - spares).ToString(CultureInfo.InvariantCulture), spares.ToString(CultureInfo.InvariantCulture), Formatting.Bytes(files.Sum(f => f.Length)), lastCommit]);
            }
        }

        sb.Append('\n');
        sb.Append(rows.Count == 1 ? "No lane directories.\n" : Formatting.Table(rows));
        sb.Append("\nRead from files only (nothing was opened for writing). ON DISK counts whole log segments, which are\n");
        sb.Append("reclaimed a segment at a time, and the spare files (delivered segments kept to be written over, at most\n");
        sb.Append("Buffer:SpareSegments in all lanes and within the budget), so it overstates what is waiting. Buffered\n");
        sb.Append("records and the oldest unsent age need the running service: appliancectl lanes\n");
        return sb.ToString();
    }

    private static string Str(JsonElement e, string name)
        => e.TryGetProperty(name, out var v) ? v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.GetRawText()
            : e.TryGetProperty(JsonNamingPolicy.CamelCase.ConvertName(name), out var c) ? c.ValueKind == JsonValueKind.String ? c.GetString() ?? "" : c.GetRawText() : "?";
}
