using System.Runtime.InteropServices;

namespace Appliance.TestKit.Native;

/// <summary>
/// Finds the librdkafka file that Confluent.Kafka has loaded into this process, so the mock cluster runs
/// in that same library instance. On Debian 12 the package's plain librdkafka.so cannot load (it needs
/// libsasl2.so.3) and Confluent.Kafka falls back to centos8-librdkafka.so; asking the process which file is
/// mapped avoids guessing that order.
/// </summary>
internal static class NativeLibraryLocator
{
    private static readonly Lazy<(IntPtr Handle, string Path)> Loaded = new(Load, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>The dlopen handle of the loaded librdkafka.</summary>
    internal static IntPtr Handle => Loaded.Value.Handle;

    /// <summary>The absolute path of the loaded librdkafka file.</summary>
    internal static string LoadedPath => Loaded.Value.Path;

    private static (IntPtr, string) Load()
    {
        // Forces Confluent.Kafka to load its native library (with its own fallback logic) first.
        _ = Confluent.Kafka.Library.Version;

        var mapped = FindMappedLibrdkafka();
        if (mapped is not null && NativeLibrary.TryLoad(mapped, out var handle))
        {
            return (handle, mapped);
        }

        var tried = new List<string>();
        foreach (var candidate in Candidates())
        {
            tried.Add(candidate);
            if (File.Exists(candidate) && NativeLibrary.TryLoad(candidate, out handle))
            {
                return (handle, candidate);
            }
        }

        throw new DllNotFoundException(
            "librdkafka is not mapped into this process and none of these could be loaded: " + string.Join(", ", tried));
    }

    private static string? FindMappedLibrdkafka()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        foreach (var line in File.ReadLines(maps))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }

            var path = line[slash..].Trim();
            var file = Path.GetFileName(path);
            if (file.Contains("librdkafka", StringComparison.Ordinal) && file.Contains(".so", StringComparison.Ordinal))
            {
                return path;
            }
        }

        return null;
    }

    private static IEnumerable<string> Candidates()
    {
        var baseDir = AppContext.BaseDirectory;
        var rid = RuntimeInformation.ProcessArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";
        foreach (var dir in new[] { Path.Combine(baseDir, "runtimes", rid, "native"), baseDir })
        {
            yield return Path.Combine(dir, "centos8-librdkafka.so");
            yield return Path.Combine(dir, "librdkafka.so");
        }
    }
}
