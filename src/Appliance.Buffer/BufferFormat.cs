using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Buffer;

/// <summary>
/// The <c>buffer.json</c> marker at the root of the data directory: format name, version and the buffer's
/// incarnation id. A directory of format 1 (one commit file per commit) is read and upgraded in place; any other
/// version is refused, never guessed at.
/// </summary>
internal sealed class BufferFormat
{
    public const string FileName = "buffer.json";
    public const string FormatName = "appliance-buffer";

    /// <summary>Version 2: commit metadata in two slot files written in place (<see cref="LaneCommitManager"/>).</summary>
    public const int CurrentVersion = 2;

    /// <summary>Version 1: one commit file per commit; the lane data is the same, so it is upgraded in place.</summary>
    public const int UpgradableVersion = 1;

    [JsonPropertyName("format")]
    public string Format { get; set; } = FormatName;

    [JsonPropertyName("version")]
    public int Version { get; set; } = CurrentVersion;

    /// <summary>Random id created with the directory. Central checkpoints carry it, so a wiped or replaced buffer never matches old checkpoints.</summary>
    [JsonPropertyName("incarnation")]
    public string Incarnation { get; set; } = "";

    [JsonPropertyName("createdUtc")]
    public DateTimeOffset CreatedUtc { get; set; }

    public static BufferFormat OpenOrCreate(string dataDirectory, TimeProvider time)
    {
        Directory.CreateDirectory(dataDirectory);
        var path = Path.Combine(dataDirectory, FileName);
        if (!File.Exists(path))
        {
            var lanesDir = Path.Combine(dataDirectory, "lanes");
            if (Directory.Exists(lanesDir) && Directory.EnumerateFileSystemEntries(lanesDir).Any())
            {
                throw new BufferFormatException($"{dataDirectory} holds lane data but no {FileName}: it was not written by this buffer (or the marker was deleted); refusing to open it");
            }

            var created = new BufferFormat { Incarnation = Guid.NewGuid().ToString("N"), CreatedUtc = time.GetUtcNow() };
            created.Write(dataDirectory);
            return created;
        }

        BufferFormat? f;
        try
        {
            f = JsonSerializer.Deserialize<BufferFormat>(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new BufferFormatException($"{path} is not a valid buffer marker: {e.Message}");
        }

        if (f is null || f.Format != FormatName)
        {
            throw new BufferFormatException($"{path} does not describe an {FormatName} directory (format '{f?.Format}')");
        }

        if (f.Version != CurrentVersion && f.Version != UpgradableVersion)
        {
            throw new BufferFormatException($"{dataDirectory} was written by buffer format version {f.Version}; this build reads versions {UpgradableVersion} and {CurrentVersion} (upgrading {UpgradableVersion} in place). Drain it with a matching build or move it away; refusing to open");
        }

        if (string.IsNullOrEmpty(f.Incarnation))
        {
            throw new BufferFormatException($"{path} has no incarnation id");
        }

        return f;
    }

    /// <summary>
    /// Marks a version-1 directory as version 2, before any lane writes a slot commit: from then on a build that reads
    /// only version 1 (an A/B rollback) refuses the directory instead of missing the newer commits. Returns the
    /// version it had, or null when it was already current.
    /// </summary>
    public int? UpgradeIfNeeded(string dataDirectory)
    {
        if (Version == CurrentVersion)
        {
            return null;
        }

        var from = Version;
        Version = CurrentVersion;
        Write(dataDirectory);
        return from;
    }

    /// <summary>Writes the marker through to a temporary file, renames it into place and syncs the directory.</summary>
    private void Write(string dataDirectory)
    {
        var path = Path.Combine(dataDirectory, FileName);
        var tmp = path + ".tmp";
        using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
        {
            JsonSerializer.Serialize(fs, this);
            fs.Flush(flushToDisk: true);
        }

        File.Move(tmp, path, overwrite: true);
        FileSync.Directory(dataDirectory);
    }
}
