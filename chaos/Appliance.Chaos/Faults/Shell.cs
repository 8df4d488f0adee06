using System.Diagnostics;

namespace Appliance.Chaos.Faults;

/// <summary>Runs a system tool (nft, mount, losetup, mkfs.ext4) with a deadline and returns its exit code and output.</summary>
public static class Shell
{
    /// <summary>Result of one command.</summary>
    /// <param name="ExitCode">Exit code (-1 when it timed out and was killed).</param>
    /// <param name="Stdout">Standard output.</param>
    /// <param name="Stderr">Standard error.</param>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        /// <summary>True for exit code 0.</summary>
        public bool Ok => ExitCode == 0;
    }

    /// <summary>Runs <paramref name="file"/> with <paramref name="args"/>, optional <paramref name="stdin"/>, for at most 30 seconds.</summary>
    public static Result Run(string file, IEnumerable<string> args, string? stdin = null, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            p.StandardInput.Write(stdin);
        }

        p.StandardInput.Close();
        if (!p.WaitForExit(timeout ?? TimeSpan.FromSeconds(30)))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            return new Result(-1, stdout.Result, stderr.Result + $"\n{file}: timed out");
        }

        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs and throws with the command's stderr when it fails.</summary>
    public static string Check(string file, IEnumerable<string> args, string? stdin = null)
    {
        var list = args.ToList();
        var r = Run(file, list, stdin);
        return r.Ok ? r.Stdout : throw new InvalidOperationException($"{file} {string.Join(' ', list)} failed ({r.ExitCode}): {r.Stderr.Trim()}");
    }

    /// <summary>True when <paramref name="tool"/> is on PATH.</summary>
    public static bool Exists(string tool) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Concat(["/usr/sbin", "/sbin"])
            .Any(d => File.Exists(Path.Combine(d, tool)));

    /// <summary>True when this process runs as root.</summary>
    public static bool IsRoot => Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || GetEuid() == 0;

    private static uint GetEuid()
    {
        try
        {
            // /proc/self/status "Uid:\treal\teffective\t..."
            var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
            var parts = line?.Split(['\t', ' '], StringSplitOptions.RemoveEmptyEntries);
            return parts is { Length: >= 3 } ? uint.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture) : uint.MaxValue;
        }
        catch (IOException)
        {
            return uint.MaxValue;
        }
    }
}
