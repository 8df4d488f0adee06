using Microsoft.Extensions.Configuration;

namespace Appliance.Cli.Tests;

[Trait("Category", "Unit")]
public sealed class ConfigCommandTests
{
    private static readonly string[] SecretValues =
    [
        "hunter2-central", "hunter2-edge", "-----BEGIN PRIVATE KEY-----", "keypass-edge", "tok-123", "s3cr3t-api", "oauth-secret", "override-password",
    ];

    [Fact]
    public async Task ConfigShow_LayeredFilesWithSecrets_MatchesGoldenAndNeverPrintsSecrets()
    {
        var (exit, output, error) = await CliRunner.RunAsync("config", "show", "--redacted", Golden.Input("config-with-secrets.json"), Golden.Input("config-site-override.json"));
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", error);
        Golden.Match("config-show-redacted.json", output);
        foreach (var secret in SecretValues)
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ConfigShow_WithoutRedactedFlag_StillRedacts()
    {
        var (exit, output, _) = await CliRunner.RunAsync("config", "show", Golden.Input("config-with-secrets.json"));
        Assert.Equal(ExitCodes.Ok, exit);
        foreach (var secret in SecretValues)
        {
            Assert.DoesNotContain(secret, output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("Central:Kafka:sasl.password", true)]
    [InlineData("Edge:Kafka:ssl.key.password", true)]
    [InlineData("Edge:Kafka:ssl.key.pem", true)]
    [InlineData("Agent:ApiToken", true)]
    [InlineData("Central:Kafka:sasl.oauthbearer.client.secret", true)]
    [InlineData("Central:Kafka:sasl.username", false)]
    [InlineData("Buffer:DataDirectory", false)]
    public void IsSecret_Key_Classified(string key, bool secret) => Assert.Equal(secret, ConfigTools.IsSecret(key));

    [Fact]
    public async Task ConfigValidate_ValidFile_ExitsOk()
    {
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", Golden.Input("config-with-secrets.json"));
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.StartsWith("OK: ", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_BrokenJson_ReportsLine()
    {
        using var dir = new Appliance.TestKit.TempDirectory("cfg");
        var path = dir.Combine("bad.json");
        await File.WriteAllTextAsync(path, "{\n  \"Buffer\": {\n    \"Lanes\": [ { \"Name\": \"critical\" } \n  }\n}\n");
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", path);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("INVALID: 1 problem(s)", output, StringComparison.Ordinal);
        Assert.Contains($"{path}: invalid JSON at line 4", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_BadBufferSection_ListsEveryProblemWithKeys()
    {
        using var dir = new Appliance.TestKit.TempDirectory("cfg");
        var path = dir.Combine("buffer.json");
        await File.WriteAllTextAsync(path, """
            {
              // comments are allowed, as in the service
              "Buffer": {
                "TotalBudgetBytes": 104857600,
                "Lanes": [
                  { "Name": "Critical!", "QuotaBytes": 209715200 },
                  { "Name": "bulk", "QuotaBytes": 1048576 },
                ]
              }
            }
            """);
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", path);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("Buffer:Lanes:0:Name: must be 1-32 characters", output, StringComparison.Ordinal);
        Assert.Contains("Buffer:Lanes:0:QuotaBytes: 209715200 is larger than Buffer:TotalBudgetBytes", output, StringComparison.Ordinal);
        Assert.Contains("Buffer:Lanes:1:QuotaBytes: 1048576 must be at least 4 segments", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_UnbindableValue_NamesTheKey()
    {
        using var dir = new Appliance.TestKit.TempDirectory("cfg");
        var path = dir.Combine("enum.json");
        await File.WriteAllTextAsync(path, """{ "Buffer": { "Lanes": [ { "Name": "bulk", "FullPolicy": "sometimes" } ] } }""");
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", path);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("Buffer:Lanes:0:FullPolicy", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_PluggedValidator_RunsAfterBuffer()
    {
        var validators = new IConfigurationValidator[] { new BufferConfigurationValidator(), new RequireSite() };
        var (exit, output, _) = await CliRunner.RunAsync(validators, "config", "validate", Golden.Input("config-site-override.json"));
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("Buffer:Lanes: at least one lane is required", output, StringComparison.Ordinal);
        Assert.Contains("Site:Region: is required", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_MissingFile_Fails()
    {
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", "/nonexistent/forwarder.json");
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("/nonexistent/forwarder.json: cannot read", output, StringComparison.Ordinal);
    }

    /// <summary>The real forwarder, built beside the tests: its --check-config applies every start-up rule.</summary>
    private static string Forwarder => Path.Combine(AppContext.BaseDirectory, "appliance-forwarder.dll");

    private const string ForwarderConfig = """
        {
          "Buffer": { "DataDirectory": "/data/forwarder/buffer", "TotalBudgetBytes": 1073741824,
                      "Lanes": [ { "Name": "critical", "QuotaBytes": 268435456 }, { "Name": "bulk", "QuotaBytes": 536870912, "FullPolicy": "DropOldest" } ] },
          "Edge": { "BootstrapServers": "127.0.0.1:9092" },
          "Central": { "BootstrapServers": "central.example.net:9093" },
          "Routes": [ { "Topics": [ "orders" ], "Lane": "critical" }, { "Topics": [ "^sensors\\..*" ], "Lane": "LANE" } ]
        }
        """;

    [Fact]
    public async Task ConfigValidate_WithForwarder_ConfigAndSiteFile_Ok()
    {
        using var dir = new Appliance.TestKit.TempDirectory("cfg");
        var config = dir.Combine("forwarder.json");
        var site = dir.Combine("site.json");
        await File.WriteAllTextAsync(config, ForwarderConfig.Replace("LANE", "bulk", StringComparison.Ordinal));
        await File.WriteAllTextAsync(site, """{ "Site": { "Id": "store-0042" } }""");
        var (exit, output, error) = await CliRunner.RunAsync("config", "validate", "--forwarder", Forwarder, config, site);
        Assert.True(exit == ExitCodes.Ok, output + error);
        Assert.Equal($"OK: {config}, {site} (checked: every start-up rule of {Forwarder})\n", output);
    }

    [Fact]
    public async Task ConfigValidate_WithForwarder_RouteAndSiteProblems_NamedByKey()
    {
        using var dir = new Appliance.TestKit.TempDirectory("cfg");
        var config = dir.Combine("forwarder.json");
        await File.WriteAllTextAsync(config, ForwarderConfig.Replace("LANE", "fast", StringComparison.Ordinal));
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", "--forwarder", Forwarder, config);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("INVALID: 2 problem(s)", output, StringComparison.Ordinal);
        Assert.Contains("  Routes:1:Lane: unknown lane 'fast' (Buffer:Lanes has: critical, bulk)", output, StringComparison.Ordinal);
        Assert.Contains("  Site:Id:", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ConfigValidate_ForwarderNotInstalled_ChecksBufferOnlyAndSaysSo()
    {
        var (exit, output, _) = await CliRunner.RunAsync("config", "validate", "--forwarder", "/nonexistent/appliance-forwarder", Golden.Input("config-with-secrets.json"));
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("(checked: JSON syntax, Buffer only: /nonexistent/appliance-forwarder not found (--forwarder))", output, StringComparison.Ordinal);
    }

    private sealed class RequireSite : IConfigurationValidator
    {
        public string Name => "Site";

        public IEnumerable<string> Validate(IConfiguration configuration)
            => string.IsNullOrEmpty(configuration["Site:Region"]) ? ["Site:Region: is required"] : [];
    }
}
