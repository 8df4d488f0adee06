using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Buffer;

/// <summary>
/// The <c>buffer.json</c> marker at the root of the data directory: format name, version and the buffer's
/// incarnation id. A directory written by another format version is refused, never guessed at.
/// </summary>
internal sealed class BufferFormat
{
    public const string FileName = "buffer.json";
    public const string FormatName = "appliance-buffer";
    public const int CurrentVersion = 1;

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
            var tmp = path + ".tmp";
            using (var fs = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.WriteThrough))
            {
                JsonSerializer.Serialize(fs, created);
                fs.Flush(flushToDisk: true);
            }

            File.Move(tmp, path);
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

        if (f.Version != CurrentVersion)
        {
            throw new BufferFormatException($"{dataDirectory} was written by buffer format version {f.Version}; this build reads version {CurrentVersion} only. Drain it with a matching build or move it away; refusing to open");
        }

        if (string.IsNullOrEmpty(f.Incarnation))
        {
            throw new BufferFormatException($"{path} has no incarnation id");
        }

        return f;
    }
}
