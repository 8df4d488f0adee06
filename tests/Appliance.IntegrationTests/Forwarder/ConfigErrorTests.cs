using System.Text.Json.Nodes;
using Appliance.TestKit;

namespace Appliance.IntegrationTests.Forwarder;

/// <summary>The real exe with invalid configurations: one clear message naming the keys, exit code 78 (EX_CONFIG).</summary>
[Trait("Category", "Integration")]
public sealed class ConfigErrorTests
{
    private static readonly string Dll = Path.Combine(AppContext.BaseDirectory, "appliance-forwarder.dll");

    public static TheoryData<string, string, string> Cases => new()
    {
        { "unknown lane", "$.Routes[0].Lane=fast", "Routes:0:Lane: unknown lane 'fast'" },
        { "bad regex", "$.Routes[0].Topics[0]=^sensor[", "Routes:0:Topics:0: invalid regular expression" },
        { "bad template", "$.Routes[0].Destination={site}.{region}.{topic}", "Routes:0:Destination: unknown placeholder '{region}'" },
        { "missing site id", "$.Site.Id=", "Site:Id: is required" },
        { "bad site id", "$.Site.Id=Store_42", "Site:Id: must match" },
        { "missing central bootstrap", "$.Central.BootstrapServers=", "Central:BootstrapServers: is required" },
        { "quota above budget", "$.Buffer.Lanes[0].QuotaBytes=999999999999", "Buffer:Lanes:0:QuotaBytes" },
        { "bad policy", "$.Buffer.Lanes[0].FullPolicy=sometimes", "FullPolicy" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Start_InvalidConfiguration_ExitsWithConfigCodeAndNamesKey(string name, string change, string expected)
    {
        using var dir = new TempDirectory("fwd-config");
        var config = ValidConfig(dir);
        Apply(config, change);
        var stderr = await StartRefusedAsync(dir, config, name);
        Assert.Contains(expected, string.Join("\n", stderr), StringComparison.Ordinal);
        Assert.StartsWith("appliance-forwarder: invalid configuration", stderr[0], StringComparison.Ordinal);
    }

    /// <summary>Starts the real forwarder with <paramref name="config"/>; asserts it exits with 78 (EX_CONFIG); returns its stderr lines.</summary>
    private static async Task<IReadOnlyList<string>> StartRefusedAsync(TempDirectory dir, JsonNode config, string name)
    {
        var path = dir.Combine("forwarder.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        await using var child = ChildProcess.StartDotnet(Dll, ["--config", path]);
        var code = await child.WaitForExitAsync(TimeSpan.FromSeconds(60));
        var stderr = child.StderrLines.ToList();
        Assert.True(code == 78, $"{name}: exit code {code}\n{string.Join("\n", stderr)}\n{string.Join("\n", child.StdoutLines)}");
        return stderr;
    }

    [Fact]
    public async Task CheckConfig_ValidThenInvalid_ReportsWithoutStarting()
    {
        using var dir = new TempDirectory("fwd-check");
        var config = ValidConfig(dir);
        var path = dir.Combine("forwarder.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        await using (var ok = ChildProcess.StartDotnet(Dll, ["--check-config", "--config", path]))
        {
            Assert.Equal(0, await ok.WaitForExitAsync(TimeSpan.FromSeconds(60)));
            Assert.Equal(["appliance-forwarder: configuration OK"], ok.StdoutLines);
        }

        // Nothing was started: no buffer directory was created.
        Assert.False(Directory.Exists(config["Buffer"]!["DataDirectory"]!.GetValue<string>()));

        Apply(config, "$.Routes[0].Lane=fast");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        await using var bad = ChildProcess.StartDotnet(Dll, ["--check-config", "--config", path]);
        Assert.Equal(78, await bad.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("Routes:0:Lane: unknown lane 'fast'", string.Join("\n", bad.StderrLines), StringComparison.Ordinal);
    }

    public static TheoryData<string, string, string> StepCases => new()
    {
        { "unknown step", "$.Routes[0].Steps[0].Type=aggregate", "Route 'critical' (Routes[0]): step 0 (aggregate): unknown step type 'aggregate'" },
        { "expression syntax", "$.Routes[0].Steps[0].Expression=value.temp >> 3", "Route 'critical' (Routes[0]): step 0 (filter): expression syntax error" },
        { "bad regex in expression", "$.Routes[0].Steps[0].Expression=value.name =~ \"[a-\"", "Route 'critical' (Routes[0]): step 0 (filter)" },
        { "unknown late lane", "$.Routes[0].LateLane=fast", "Routes:0:LateLane: unknown lane 'fast'" },
    };

    [Theory]
    [MemberData(nameof(StepCases))]
    public async Task Start_InvalidPipelineStep_ExitsWithConfigCodeAndNamesRoute(string name, string change, string expected)
    {
        using var dir = new TempDirectory("fwd-config");
        var config = ValidConfig(dir);
        config["Routes"]![0]!["Steps"] = new JsonArray(new JsonObject { ["Type"] = "filter", ["Expression"] = "value.temp > 3" });
        Apply(config, change);
        Assert.Contains(expected, string.Join("\n", await StartRefusedAsync(dir, config, name)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SeveralProblems_OneMessageListsEveryKey()
    {
        using var dir = new TempDirectory("fwd-config");
        var config = ValidConfig(dir);
        Apply(config, "$.Routes[0].Lane=fast");
        Apply(config, "$.Site.Id=");
        var stderr = string.Join("\n", await StartRefusedAsync(dir, config, "two problems"));
        Assert.Contains("Routes:0:Lane", stderr, StringComparison.Ordinal);
        Assert.Contains("Site:Id", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_MissingConfigFile_ExitsWithConfigCode()
    {
        using var dir = new TempDirectory("fwd-config");
        await using var child = ChildProcess.StartDotnet(Dll, ["--config", dir.Combine("absent.json")]);
        Assert.Equal(78, await child.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        Assert.Contains("absent.json", string.Join("\n", child.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_SiteIdFromEnvironmentAndSiteFile_Accepted()
    {
        // Site identity from the site file overrides the main file; the environment overrides both.
        using var dir = new TempDirectory("fwd-config");
        var config = ValidConfig(dir);
        Apply(config, "$.Site.Id=");
        var path = dir.Combine("forwarder.json");
        await File.WriteAllTextAsync(path, config.ToJsonString());
        var site = dir.Combine("site.json");
        await File.WriteAllTextAsync(site, """{"Site":{"Id":"Bad_Site"}}""");
        var options = new ChildProcessOptions();
        options.Environment["APPLIANCE_Routes__0__Lane"] = "nope";
        await using var child = ChildProcess.StartDotnet(Dll, ["--config", path, "--site-config", site], options);
        Assert.Equal(78, await child.WaitForExitAsync(TimeSpan.FromSeconds(60)));
        var stderr = string.Join("\n", child.StderrLines);
        Assert.Contains("Site:Id: must match", stderr, StringComparison.Ordinal);
        Assert.Contains("unknown lane 'nope'", stderr, StringComparison.Ordinal);
    }

    private static JsonObject ValidConfig(TempDirectory dir) => new()
    {
        ["Site"] = new JsonObject { ["Id"] = "store-042" },
        ["Buffer"] = new JsonObject
        {
            ["DataDirectory"] = dir.Combine("buffer"),
            ["TotalBudgetBytes"] = 1L << 30,
            ["Lanes"] = new JsonArray(new JsonObject { ["Name"] = "critical", ["QuotaBytes"] = 512L << 20 }, new JsonObject { ["Name"] = "bulk", ["QuotaBytes"] = 512L << 20, ["FullPolicy"] = "DropOldest" }),
        },
        ["Edge"] = new JsonObject { ["BootstrapServers"] = "127.0.0.1:1" },
        ["Central"] = new JsonObject { ["BootstrapServers"] = "127.0.0.1:2" },
        ["Routes"] = new JsonArray(new JsonObject { ["Topics"] = new JsonArray("alarms"), ["Lane"] = "critical" }),
    };

    /// <summary>Applies "$.A.B[0].C=value" (value as string).</summary>
    private static void Apply(JsonObject root, string change)
    {
        var eq = change.IndexOf('=', StringComparison.Ordinal);
        var path = change[2..eq];
        var value = change[(eq + 1)..];
        JsonNode node = root;
        var parts = path.Split('.');
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var index = -1;
            var bracket = part.IndexOf('[', StringComparison.Ordinal);
            if (bracket >= 0)
            {
                index = int.Parse(part[(bracket + 1)..^1], System.Globalization.CultureInfo.InvariantCulture);
                part = part[..bracket];
            }

            var last = i == parts.Length - 1;
            if (index >= 0)
            {
                var array = node[part]!.AsArray();
                if (last)
                {
                    array[index] = long.TryParse(value, out var n) ? JsonValue.Create(n) : JsonValue.Create(value);
                }
                else
                {
                    node = array[index]!;
                }
            }
            else if (last)
            {
                node[part] = long.TryParse(value, out var n) ? JsonValue.Create(n) : JsonValue.Create(value);
            }
            else
            {
                node = node[part]!;
            }
        }
    }
}
