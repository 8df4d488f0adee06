using System.Globalization;

namespace Appliance.Benchmarks;

/// <summary>The option syntax every benchmark takes (<c>--name value</c>), and settings they share.</summary>
internal static class BenchmarkArgs
{
    /// <summary>Debian's jemalloc (package libjemalloc2), the allocator the image preloads for the forwarder.</summary>
    public const string Jemalloc = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2";

    /// <summary>The value after <paramref name="name"/>, or null when the option is absent.</summary>
    public static string? Value(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    /// <summary>The integer after <paramref name="name"/>, or <paramref name="fallback"/> when the option is absent.</summary>
    public static int Int(string[] args, string name, int fallback) =>
        Value(args, name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;

    /// <summary>The comma-separated integers after <paramref name="name"/> (<c>--brokers 1,3</c>), or <paramref name="fallback"/> when the option is absent.</summary>
    public static List<int> Ints(string[] args, string name, List<int> fallback) =>
        Value(args, name) is { } v ? [.. v.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] : fallback;
}
