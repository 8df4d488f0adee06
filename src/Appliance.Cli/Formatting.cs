using System.Globalization;
using System.Text;
using Appliance.Core.Status;

namespace Appliance.Cli;

/// <summary>Human output of appliancectl: plain text, fixed-width columns, units spelled out.</summary>
public static class Formatting
{
    /// <summary>Bytes with a binary unit, e.g. <c>1.5 MiB</c>.</summary>
    public static string Bytes(long n)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = n;
        var i = 0;
        while (v >= 1024 && i < units.Length - 1)
        {
            v /= 1024;
            i++;
        }

        return i == 0 ? string.Create(CultureInfo.InvariantCulture, $"{n} B") : string.Create(CultureInfo.InvariantCulture, $"{v:0.0} {units[i]}");
    }

    /// <summary>A duration the way the status page shows it: <c>42 s</c>, <c>5 min</c>, <c>3 h 12 min</c>, <c>2 d 4 h</c>.</summary>
    public static string Age(TimeSpan t)
    {
        var s = (long)Math.Max(0, Math.Floor(t.TotalSeconds));
        return s switch
        {
            < 60 => $"{s} s",
            < 3600 => $"{s / 60} min",
            < 86400 => $"{s / 3600} h {s % 3600 / 60} min",
            _ => $"{s / 86400} d {s % 86400 / 3600} h",
        };
    }

    /// <summary>A count with thousands separators.</summary>
    public static string Count(long n) => n.ToString("#,0", CultureInfo.InvariantCulture);

    /// <summary>The <c>status</c> report.</summary>
    public static string Status(ApplianceStatus s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var now = s.TakenAt;
        var sb = new StringBuilder();
        void Line(string k, string v) => sb.Append(CultureInfo.InvariantCulture, $"{k,-14}{v}\n");
        Line("Site", s.SiteId);
        Line("Version", $"{s.Version} (central: {s.BrokerFlavour})");
        var since = s.ConnectivitySince is { } cs ? $" for {Age(now - cs)}" : "";
        Line("Central", $"{s.Connectivity.ToString().ToUpperInvariant()}{since} (circuit breaker {BreakerWord(s.CircuitBreaker)})");
        Line("Last sync", s.LastSuccessfulDelivery is { } d ? $"{Age(now - d)} ago" : "none since start");
        Line("Edge broker", s.EdgeReachable ? "reachable" : "UNREACHABLE");
        var buffer = s.Buffer.Faulted ? $"FAULTED: {s.Buffer.FaultReason ?? "unknown reason"}"
            : !s.Buffer.Open ? "not open"
            : $"{Bytes(s.Buffer.TotalBufferedBytes)} of {Bytes(s.Buffer.TotalBudgetBytes)} used";
        Line("Buffer", buffer);
        Line("Transactions", $"{Count(s.TransactionsCommittedTotal)} committed, {Count(s.TransactionsAbortedTotal)} aborted");
        var drops = s.Lanes.Sum(l => l.DroppedRecordsSum);
        Line("Dropped", drops == 0 ? "none" : $"{Count(drops)} records (appliancectl lanes; runbook: drops reported)");
        var lag = s.EdgeLag.Sum(l => l.Lag);
        Line("Edge lag", $"{Count(lag)} records over {s.EdgeLag.Count} partitions");
        sb.Append('\n');
        sb.Append(Lanes(s));
        return sb.ToString();
    }

    /// <summary>The <c>lanes</c> table.</summary>
    public static string Lanes(ApplianceStatus s)
    {
        ArgumentNullException.ThrowIfNull(s);
        var rows = new List<string[]> { new[] { "LANE", "PRIO", "POLICY", "FILL", "BUFFERED", "RECORDS", "OLDEST", "DRAINED", "DROPPED", "GAPS", "STATE" } };
        foreach (var l in s.Lanes)
        {
            var fill = l.QuotaBytes > 0 ? Math.Min(100, (int)Math.Round(100.0 * l.BufferedBytes / l.QuotaBytes)) : 0;
            var drops = l.DroppedRecordsTotal.Where(kv => kv.Value > 0).Select(kv => $"{kv.Key}={Count(kv.Value)}").ToList();
            rows.Add(
            [
                l.Name, l.Priority.ToString(CultureInfo.InvariantCulture), l.Policy, $"{fill}%", $"{Bytes(l.BufferedBytes)}/{Bytes(l.QuotaBytes)}",
                Count(l.BufferedRecords), l.OldestUnsentAt is null ? "-" : Age(l.OldestUnsentAge(s.TakenAt)), Count(l.DrainedRecordsTotal),
                drops.Count == 0 ? "0" : string.Join(",", drops), Count(l.GapMarkersSentTotal), l.Paused ? "PAUSED" : "draining",
            ]);
        }

        return Table(rows);
    }

    /// <summary>Left-aligned columns separated by two spaces.</summary>
    public static string Table(IReadOnlyList<string[]> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var widths = new int[rows.Max(r => r.Length)];
        foreach (var r in rows)
        {
            for (var i = 0; i < r.Length; i++)
            {
                widths[i] = Math.Max(widths[i], r[i].Length);
            }
        }

        var sb = new StringBuilder();
        foreach (var r in rows)
        {
            for (var i = 0; i < r.Length; i++)
            {
                sb.Append(i == r.Length - 1 ? r[i] : r[i].PadRight(widths[i] + 2));
            }

            sb.Append('\n');
        }

        return sb.ToString();
    }

    private static string BreakerWord(CircuitBreakerState b) => b switch
    {
        CircuitBreakerState.Closed => "closed",
        CircuitBreakerState.Open => "open",
        CircuitBreakerState.HalfOpen => "half-open",
        _ => "isolated",
    };
}
