using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Appliance.Chaos.Running;

namespace Appliance.Chaos.Reporting;

/// <summary>A whole run: what ran, with what, and the totals checked against the acceptance thresholds.</summary>
public sealed class RunReport
{
    /// <summary>Run mode: smoke, full or custom.</summary>
    public required string Mode { get; init; }

    /// <summary>The command line.</summary>
    public required string Command { get; init; }

    /// <summary>Start, UTC.</summary>
    public required DateTimeOffset StartedAt { get; init; }

    /// <summary>Duration, seconds.</summary>
    public double Seconds { get; set; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; }

    /// <summary>Per-scenario results.</summary>
    public required IReadOnlyList<ScenarioResult> Scenarios { get; init; }

    /// <summary>Counters summed over scenarios.</summary>
    public FaultCounters Totals { get; init; } = new();

    /// <summary>Acceptance thresholds that were not reached (full run only).</summary>
    public IReadOnlyList<string> ThresholdsMissed { get; set; } = [];

    /// <summary>True when no scenario failed or errored (and, with --require-all, none was skipped) and no threshold was missed.</summary>
    public bool Passed { get; set; }
}

/// <summary>Writes report.json and report.md.</summary>
public static class ReportWriter
{
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The full-run acceptance thresholds not met by <paramref name="totals"/>.</summary>
    public static IReadOnlyList<string> MissedThresholds(FaultCounters totals)
    {
        ArgumentNullException.ThrowIfNull(totals);
        var missed = new List<string>();
        if (totals.BlackholePartitions + totals.ResetPartitions < 50 || totals.BlackholePartitions == 0 || totals.ResetPartitions == 0)
        {
            missed.Add($"partitions: {totals.BlackholePartitions} blackhole + {totals.ResetPartitions} reset < 50 of both kinds");
        }

        if (totals.ForwarderKills < 30)
        {
            missed.Add($"forwarder SIGKILLs: {totals.ForwarderKills} < 30");
        }

        if (totals.CentralRestarts < 10)
        {
            missed.Add($"central restarts: {totals.CentralRestarts} < 10");
        }

        if (totals.DiskFullEpisodes < 5)
        {
            missed.Add($"disk-full episodes: {totals.DiskFullEpisodes} < 5");
        }

        if (totals.MaxBacklogBytes < 1_000_000_000)
        {
            missed.Add($"largest backlog: {totals.MaxBacklogBytes} bytes < 1 GB");
        }

        return missed;
    }

    /// <summary>Writes both files into <paramref name="directory"/>; returns the Markdown path.</summary>
    public static string Write(RunReport report, string directory)
    {
        ArgumentNullException.ThrowIfNull(report);
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(report, Json));
        var md = Path.Combine(directory, "report.md");
        File.WriteAllText(md, Markdown(report));
        return md;
    }

    /// <summary>The Markdown report.</summary>
    public static string Markdown(RunReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var c = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(c, $"# Chaos run: {report.Mode} — {(report.Passed ? "PASSED" : "FAILED")}");
        sb.AppendLine();
        sb.AppendLine(c, $"* started {report.StartedAt:yyyy-MM-dd HH:mm} UTC, {report.Seconds / 60:F1} min, seed {report.Seed}");
        sb.AppendLine(c, $"* command: `{report.Command}`");
        var t = report.Totals;
        sb.AppendLine(c, $"* faults: {t.BlackholePartitions} blackhole + {t.ResetPartitions} reset partitions, {t.ForwarderKills} SIGKILLs, {t.ForwarderTerms} SIGTERM restarts, {t.CentralRestarts} central restarts, {t.CentralBrokerBounces} central broker bounces, {t.EdgeRestarts} edge restarts, {t.DiskFullEpisodes} disk-full episodes, {t.LatencyEpisodes} latency and {t.LossEpisodes} loss periods; largest backlog {t.MaxBacklogBytes / 1048576.0:F0} MiB on disk");
        if (report.ThresholdsMissed.Count > 0)
        {
            sb.AppendLine(c, $"* thresholds missed: {string.Join("; ", report.ThresholdsMissed)}");
        }

        sb.AppendLine();
        sb.AppendLine("| scenario | status | delivery / dup check | produced | delivered | lost | dup | redelivered | out of order | dropped (gap markers) | p50 / p99 / max latency ms | drain s | time s |");
        sb.AppendLine("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
        foreach (var s in report.Scenarios)
        {
            var v = s.Verification;
            sb.AppendLine(c, $"| {s.Name} | {s.Status}{(s.Reason is null ? "" : $": {s.Reason.Replace("|", "/", StringComparison.Ordinal)}")} | {s.Delivery} / {v?.DuplicateCheck.ToString() ?? "-"} | {v?.Produced} | {v?.Delivered} | {v?.Lost} | {v?.Duplicated} | {v?.Redelivered} | {v?.OutOfOrder} | {v?.DroppedByPolicy} ({v?.GapMarkerCount}) | {v?.LatencyP50Ms} / {v?.LatencyP99Ms} / {v?.LatencyMaxMs} | {s.DrainSeconds?.ToString("F1", c) ?? "-"} | {s.Seconds:F0} |");
        }

        foreach (var s in report.Scenarios)
        {
            sb.AppendLine();
            sb.AppendLine(c, $"## {s.Name}");
            sb.AppendLine();
            sb.AppendLine(s.Description);
            sb.AppendLine();
            sb.AppendLine(c, $"* status: {s.Status}{(s.Reason is null ? "" : $" ({s.Reason})")}; clusters: {s.Clusters}; {s.BytesProduced / 1048576.0:F1} MiB produced");
            if (s.Verification is { } v)
            {
                foreach (var (lane, lc) in v.Lanes)
                {
                    sb.AppendLine(c, $"* lane {lane}: produced {lc.Produced}, delivered {lc.Delivered}, lost {lc.Lost}, dropped {lc.DroppedByPolicy}{(lc.DeliveredInGaps > 0 ? $" (+{lc.DeliveredInGaps} named by gap markers but delivered by a failed attempt)" : "")}, gap-marker count {lc.GapMarkerCount}");
                }

                foreach (var f in v.Failures)
                {
                    sb.AppendLine(c, $"* FAIL: {f}");
                }

                foreach (var n in v.Notes)
                {
                    sb.AppendLine(c, $"* note: {n}");
                }
            }

            var exits = s.ForwarderExits.GroupBy(e => $"{e.How} (exit {e.ExitCode})").Select(g => $"{g.Count()} x {g.Key}");
            sb.AppendLine(c, $"* forwarder exits: {(s.ForwarderExits.Count == 0 ? "none" : string.Join(", ", exits))}; final SIGTERM stop exit code {s.FinalStopExitCode?.ToString(c) ?? "-"}");
            foreach (var crash in s.ForwarderExits.Where(e => e.How == "crash").Take(3))
            {
                sb.AppendLine(c, $"* crash exit {crash.ExitCode}, last output: `{string.Join(" ⏎ ", crash.Tail.TakeLast(3)).Replace("`", "'", StringComparison.Ordinal)}`");
            }

            if (s.Events.Count > 0)
            {
                sb.AppendLine();
                sb.AppendLine("<details><summary>timeline</summary>");
                sb.AppendLine();
                foreach (var e in s.Events)
                {
                    sb.AppendLine(c, $"    {e}");
                }

                sb.AppendLine();
                sb.AppendLine("</details>");
            }
        }

        return sb.ToString();
    }
}
