using Appliance.Core.Pipeline;
using Microsoft.Extensions.Options;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline;

[Trait("Category", "Unit")]
public sealed class PipelineOptionsValidatorTests
{
    private static IReadOnlyList<string> Validate(params RouteOptions[] routes) =>
        PipelineOptionsValidator.Validate(new PipelineOptions { Routes = [.. routes] }, Lanes);

    private static RouteOptions Route(params StepOptions[] steps) => new() { Name = "telemetry", Sources = ["t"], Lane = "normal", Steps = [.. steps] };

    [Fact]
    public void Validate_AppsettingsExample_BindsAndIsValid()
    {
        var options = ConfigurationBinding.Bind("""
            {
              "Pipeline": {
                "SiteId": "store-0042",
                "Routes": [
                  {
                    "Name": "alarms",
                    "Sources": [ "alarms", "regex:alarms\\..+" ],
                    "Lane": "critical",
                    "DestinationTemplate": "{site}.{topic}",
                    "Steps": [
                      { "Type": "filter", "Expression": "value.severity in [\"high\", \"critical\"] and not exists(header.test)" },
                      { "Type": "mask", "Fields": [ "value.operator", "key" ], "HmacKey": "change-me-to-a-long-secret", "Encoding": "hex" },
                      { "Type": "set", "Set": { "value.site": "$site", "header.x-source-offset": "$offset" } }
                    ]
                  },
                  {
                    "Name": "telemetry",
                    "Sources": [ "regex:sensors\\.[a-z0-9-]+" ],
                    "Lane": "normal",
                    "LateLane": "bulk",
                    "DestinationTemplate": "{site}.{topic}.1m",
                    "LateDestinationTemplate": "{site}.{topic}.late",
                    "Steps": [
                      { "Type": "filter", "Expression": "value.temp > -50 and value.temp < 150" },
                      { "Type": "project", "Keep": [ "value.ts", "value.temp", "value.humidity" ] },
                      { "Type": "rename", "Rename": { "value.humidity": "value.rh" } },
                      { "Type": "downsample", "Window": "00:01:00", "AllowedLateness": "00:00:10", "TimestampField": "value.ts", "Fields": [ "value.temp", "value.rh" ] }
                    ]
                  },
                  { "Name": "clicks", "Sources": [ "clicks" ], "Lane": "bulk", "Steps": [ { "Type": "sample", "N": 10 }, { "Type": "dedupe", "Window": "00:00:30", "IdField": "value.id" } ] }
                ]
              }
            }
            """);
        Assert.Empty(PipelineOptionsValidator.Validate(options, Lanes));
        Assert.Equal(3, options.Routes.Count);
        Assert.Equal(TimeSpan.FromMinutes(1), options.Routes[1].Steps[3].Window);
        Assert.Equal("value.rh", options.Routes[1].Steps[2].Rename["value.humidity"]);
        Assert.Equal(10, options.Routes[2].Steps[0].N);
        Assert.Equal("mask Fields=[value.operator, key] HmacKey=<redacted> Encoding=hex", options.Routes[0].Steps[1].ToString());
        Assert.Equal(
            "telemetry: [regex:sensors\\.[a-z0-9-]+] -> [filter Expression=value.temp > -50 and value.temp < 150 | project Keep=[value.ts, value.temp, value.humidity] | rename Rename={value.humidity=value.rh} | downsample Fields=[value.temp, value.rh] Window=00:01:00 AllowedLateness=00:00:10 TimestampField=value.ts] -> lane normal -> {site}.{topic}.1m (late: lane bulk -> {site}.{topic}.late)",
            options.Routes[1].ToString());
    }

    [Fact]
    public void Validate_UnknownLane_NamesRouteAndLane()
    {
        var r = Route();
        r.Lane = "urgent";
        Assert.Equal(["Route 'telemetry' (Routes[0]): unknown lane 'urgent' in 'Lane' (known lanes: critical, high, normal, bulk)"], Validate(r));
    }

    [Fact]
    public void Validate_BadSourceRegex_NamesRouteAndPattern()
    {
        var r = Route();
        r.Sources = ["regex:sensors.(["];
        var error = Assert.Single(Validate(r));
        Assert.StartsWith("Route 'telemetry' (Routes[0]): source 'regex:sensors.([' is not a valid regular expression: ", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_ExpressionSyntaxError_PointsAtOffendingText()
    {
        var error = Assert.Single(Validate(Route(new StepOptions { Type = "filter", Expression = "value.temp >> 3" })));
        Assert.Equal(
            "Route 'telemetry' (Routes[0]): step 0 (filter): expression syntax error: unexpected '>' (expected a value, a path or '(') at column 13\n    value.temp >> 3\n                ^",
            error);
    }

    [Fact]
    public void Validate_UnknownStepType_ListsKnownTypes()
    {
        Assert.Equal(
            ["Route 'telemetry' (Routes[0]): step 0 (aggregate): unknown step type 'aggregate' (known: filter, project, rename, set, mask, sample, downsample, dedupe, plugin)"],
            Validate(Route(new StepOptions { Type = "aggregate" })));
    }

    [Theory]
    [InlineData("sample", "'N' must be at least 1 (it is 0)")]
    [InlineData("mask-short-key", "'HmacKey' is 4 bytes; at least 16 bytes are required")]
    [InlineData("mask-bad-hex", "'HmacKey' is not valid hex")]
    [InlineData("mask-method", "'Method' is 'scramble'; expected one of: hash, redact")]
    [InlineData("downsample-window", "'Window' must be a positive whole number of milliseconds, e.g. \"00:01:00\" (it is unset)")]
    [InlineData("downsample-field", "'Fields': 'temp' is not a valid path: it must start with value, key, header, timestamp, topic, partition or offset")]
    [InlineData("project-empty", "'Keep' or 'Drop' must list at least one field")]
    [InlineData("filter-action", "'Action' is 'maybe'; expected one of: keep, drop")]
    [InlineData("set-token", "Set 'value.x': unknown metadata token '$sight' (known: $site, $route, $lane, $topic, $partition, $offset, $timestamp, $timestampIso, $now; write $$ for a literal $)")]
    [InlineData("wrong-setting", "setting 'Keep' does not apply to a 'filter' step (it uses: Expression, Action)")]
    public void Validate_BadStepSettings_NamesRouteStepAndProblem(string kind, string problem)
    {
        var step = kind switch
        {
            "sample" => new StepOptions { Type = "sample", N = 0 },
            "mask-short-key" => new StepOptions { Type = "mask", Fields = ["value.a"], HmacKey = "Jefe" },
            "mask-bad-hex" => new StepOptions { Type = "mask", Fields = ["value.a"], HmacKey = "zz", HmacKeyFormat = "hex" },
            "mask-method" => new StepOptions { Type = "mask", Fields = ["value.a"], Method = "scramble" },
            "downsample-window" => new StepOptions { Type = "downsample" },
            "downsample-field" => new StepOptions { Type = "downsample", Window = TimeSpan.FromSeconds(1), Fields = ["temp"] },
            "project-empty" => new StepOptions { Type = "project" },
            "filter-action" => new StepOptions { Type = "filter", Expression = "true", Action = "maybe" },
            "set-token" => new StepOptions { Type = "set", Set = new() { ["value.x"] = "$sight" } },
            _ => new StepOptions { Type = "filter", Expression = "true", Keep = ["value.a"] },
        };
        var type = step.Type;
        Assert.Equal([$"Route 'telemetry' (Routes[0]): step 0 ({type}): {problem}"], Validate(Route(step)));
    }

    [Fact]
    public void Validate_SeveralProblems_ReportsEveryOne()
    {
        var first = new RouteOptions { Name = "a", Sources = [], Lane = "", DestinationTemplate = "{site}.{zone}" };
        var second = new RouteOptions
        {
            Name = "a",
            Sources = ["bad topic"],
            Lane = "normal",
            LateLane = "late",
            Steps =
            [
                new StepOptions { Type = "downsample", Window = TimeSpan.FromSeconds(1) },
                new StepOptions { Type = "dedupe", Window = TimeSpan.FromSeconds(1) },
            ],
        };
        Assert.Equal(
            [
                "Route 'a' (Routes[0]): 'Sources' must list at least one topic or regex: pattern",
                "Route 'a' (Routes[0]): 'Lane' is required (known lanes: critical, high, normal, bulk)",
                "Route 'a' (Routes[0]): 'DestinationTemplate' has the unknown placeholder '{zone}' at column 8 (known: {site}, {topic}, {lane})",
                "Route 'a' (Routes[1]): the name 'a' is used by an earlier route",
                "Route 'a' (Routes[1]): source 'bad topic' is not a valid topic name (letters, digits, '.', '_', '-'; or prefix 'regex:' for a pattern)",
                "Route 'a' (Routes[1]): unknown lane 'late' in 'LateLane' (known lanes: critical, high, normal, bulk)",
                "Route 'a' (Routes[1]): a route may have at most one windowed step (downsample or dedupe); steps 0 (downsample), 1 (dedupe) are windowed",
            ],
            Validate(first, second));
    }

    [Fact]
    public void Validate_ThroughOptionsInterface_FailsWithAllMessages()
    {
        var validator = new PipelineOptionsValidator(Lanes);
        var r = Route(new StepOptions { Type = "nope" });
        r.Lane = "x";
        var result = validator.Validate(Microsoft.Extensions.Options.Options.DefaultName, new PipelineOptions { Routes = [r] });
        Assert.True(result.Failed);
        Assert.Equal(2, result.Failures!.Count());
        Assert.True(validator.Validate(Microsoft.Extensions.Options.Options.DefaultName, new PipelineOptions { Routes = [Route()] }).Succeeded);
    }
}
