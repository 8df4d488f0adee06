using System.Globalization;

namespace Appliance.Chaos.Faults;

/// <summary>
/// Removes whatever a crashed or interrupted run left behind, by well-known names only: the nftables table
/// <c>inet appliance_chaos</c>, loop mounts and images under <see cref="ChaosPaths.StateRoot"/>, and processes named in
/// its pid files (only when the process's command line still contains the recorded fragment, so a reused pid is
/// never killed).
/// </summary>
public static class Leftovers
{
    /// <summary>Removes leftovers; returns one line per thing removed.</summary>
    public static IReadOnlyList<string> Cleanup()
    {
        var removed = new List<string>();
        removed.AddRange(KillRecordedProcesses());
        if (Shell.Exists("nft") && Shell.IsRoot && NetworkFaults.Cleanup())
        {
            removed.Add($"nftables table inet {NetworkFaults.Table}");
        }

        if (Shell.IsRoot)
        {
            removed.AddRange(LoopDisk.CleanupAll());
        }

        var buffers = Path.Combine(ChaosPaths.StateRoot, "buffers");
        if (Directory.Exists(buffers))
        {
            Directory.Delete(buffers, recursive: true);
            removed.Add($"buffer directories {buffers}");
        }

        return removed;
    }

    /// <summary>Kills processes recorded in pid files whose command line still matches; deletes the pid files.</summary>
    public static IReadOnlyList<string> KillRecordedProcesses()
    {
        var removed = new List<string>();
        if (!Directory.Exists(ChaosPaths.PidDirectory))
        {
            return removed;
        }

        foreach (var file in Directory.GetFiles(ChaosPaths.PidDirectory, "*.pid"))
        {
            var lines = File.ReadAllLines(file);
            if (lines.Length >= 2 && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && Matches(pid, lines[1]))
            {
                Shell.Run("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
                removed.Add($"process {pid} ({lines[1]})");
            }

            File.Delete(file);
        }

        return removed;
    }

    /// <summary>True when process <paramref name="pid"/> runs and its command line contains <paramref name="fragment"/>.</summary>
    public static bool Matches(int pid, string fragment)
    {
        try
        {
            var cmdline = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline").Replace('\0', ' ');
            return fragment.Length > 0 && cmdline.Contains(fragment, StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
