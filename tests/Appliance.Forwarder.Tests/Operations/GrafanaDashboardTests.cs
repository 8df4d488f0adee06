using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Appliance.Forwarder.Tests.Operations;

[Trait("Category", "Integration")]
public sealed partial class GrafanaDashboardTests
{
    [Fact]
    public async Task Dashboard_EveryQuery_ParsesAndUsesOnlyExportedMetrics()
    {
        var root = RepoRoot();
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(root, "appliance", "grafana", "appliance-fleet.json")))!;
        var exprs = dashboard["panels"]!.AsArray().SelectMany(p => p!["targets"]!.AsArray()).Select(t => t!["expr"]!.GetValue<string>()).ToList();
        Assert.NotEmpty(exprs);

        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.Drop("bulk", "ttl", 1);
        var exported = new MetricsText(await host.GetStringAsync(host.MetricsUri, "/metrics")).Text
            .Split('\n').Where(l => l.StartsWith("# TYPE ", StringComparison.Ordinal)).Select(l => l.Split(' ')[2]).ToHashSet(StringComparer.Ordinal);
        var docs = await File.ReadAllTextAsync(Path.Combine(root, "docs", "operations.md"));
        foreach (var name in exprs.SelectMany(e => MetricName().Matches(e).Select(m => m.Value)).Distinct())
        {
            Assert.Contains(name, exported);
            Assert.Contains($"`{name}`", docs, StringComparison.Ordinal);
        }

        // promtool has no expression checker; recording rules are parsed with the same PromQL parser.
        var rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
        for (var i = 0; i < exprs.Count; i++)
        {
            var e = exprs[i].Replace("$__rate_interval", "5m", StringComparison.Ordinal).Replace("$site", ".*", StringComparison.Ordinal);
            rules.Append("      - record: dashboard:q").Append(i).Append("\n        expr: '").Append(e.Replace("'", "''", StringComparison.Ordinal)).Append("'\n");
        }

        using var dir = new Appliance.TestKit.TempDirectory("rules");
        var path = dir.Combine("rules.yml");
        await File.WriteAllTextAsync(path, rules.ToString());
        Assert.True(File.Exists("/usr/bin/promtool"), "promtool is not installed: the test setup must run 'apt-get install prometheus'");
        using var p = Process.Start(new ProcessStartInfo("/usr/bin/promtool", ["check", "rules", path]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEndAsync();
        var error = p.StandardError.ReadToEndAsync();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(deadline.Token);
        Assert.True(p.ExitCode == 0, $"promtool check rules: {await output}{await error}");
    }

    [Fact]
    public void Docs_EveryApplianceMetricOfTheCode_IsDocumented()
    {
        var root = RepoRoot();
        var code = File.ReadAllText(Path.Combine(root, "src", "Appliance.Forwarder", "Operations", "ApplianceMetrics.cs"));
        var docs = File.ReadAllText(Path.Combine(root, "docs", "operations.md"));
        var names = CreatedMetric().Matches(code).Select(m => m.Groups[1].Value).ToList();
        Assert.True(names.Count >= 25, $"found only {names.Count} metric definitions");
        foreach (var name in names)
        {
            Assert.Contains($"| `{name}` |", docs, StringComparison.Ordinal);
        }
    }

    private static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Appliance.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("repository root not found");
    }

    [GeneratedRegex("appliance_[a-z_]+")]
    private static partial Regex MetricName();

    [GeneratedRegex("Create(?:Gauge|Counter)\\(\"(appliance_[a-z_]+)\"")]
    private static partial Regex CreatedMetric();
}
