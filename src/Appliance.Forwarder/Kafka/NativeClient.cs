using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;

namespace Appliance.Forwarder.Kafka;

/// <summary>
/// Access to librdkafka beneath a Confluent.Kafka client, for the two hot paths that call it directly
/// (<see cref="Drain.DirectProducer"/>, <see cref="Ingest.DirectConsumer"/>): the library Confluent.Kafka loaded, and
/// a client's native <c>rd_kafka_t</c>.
/// </summary>
/// <remarks>
/// The native handle is an internal property of Confluent.Kafka's <see cref="Handle"/> (package pinned in
/// Directory.Packages.props). When it cannot be found, or the librdkafka Confluent.Kafka loaded is not found mapped
/// into the process, the callers fall back to Confluent.Kafka's own methods, with the same result.
/// </remarks>
internal static class NativeClient
{
    private static readonly Lazy<nint> Library = new(LoadMapped);

    /// <summary>
    /// The address of <paramref name="name"/> in the librdkafka Confluent.Kafka loaded, or 0 when the library or the
    /// export is not found.
    /// </summary>
    public static nint Export(string name) =>
        Library.Value != 0 && NativeLibrary.TryGetExport(Library.Value, name, out var address) ? address : 0;

    /// <summary>
    /// The client's native handle with a reference added (release it with <see cref="SafeHandle.DangerousRelease"/>),
    /// or null when Confluent.Kafka does not expose it as expected.
    /// </summary>
    public static SafeHandle? AddRef(IClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        var property = typeof(Handle).GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic);
        if (property?.GetValue(client.Handle) is not SafeHandle { IsInvalid: false, IsClosed: false } handle)
        {
            return null;
        }

        var added = false;
        handle.DangerousAddRef(ref added);
        return added ? handle : null;
    }

    /// <summary>
    /// The library Confluent.Kafka loaded (with its own fallbacks: on Debian it is <c>centos8-librdkafka.so</c>, which
    /// <c>NativeLibrary.TryLoad("librdkafka")</c> would not find), found where it is mapped into the process; loading
    /// that path again returns the same, already loaded library.
    /// </summary>
    private static nint LoadMapped()
    {
        _ = Confluent.Kafka.Library.Version;
        return MappedLibrdkafka() is { } path && NativeLibrary.TryLoad(path, out var lib) ? lib : 0;
    }

    /// <summary>The path of the librdkafka shared object mapped into this process (Linux), or null.</summary>
    private static string? MappedLibrdkafka()
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        foreach (var line in File.ReadLines(maps))
        {
            var slash = line.IndexOf('/', StringComparison.Ordinal);
            // librdkafka.so, or a variant librdkafka.redist ships such as centos8-librdkafka.so.
            if (slash >= 0 && Path.GetFileName(line.AsSpan(slash)).Contains("librdkafka", StringComparison.Ordinal) && line.Contains(".so", StringComparison.Ordinal))
            {
                return line[slash..].Trim();
            }
        }

        return null;
    }
}
