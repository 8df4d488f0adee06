using System.Reflection;
using System.Text.Json;
using Appliance.Core.Pipeline;
using Microsoft.Extensions.Options;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline;

[Trait("Category", "Unit")]
public sealed class PluginStepTests
{
    // The example plugin is built with the tests but not referenced: it is loaded from this path, by configuration.
    private static readonly string s_pluginPath = typeof(PluginStepTests).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "ExampleStepAssembly").Value!;

    private static string Config(string cls, string settings) => $$"""
        {
          "Pipeline": {
            "SiteId": "s1",
            "Routes": [
              {
                "Name": "plugged",
                "Sources": [ "t" ],
                "Lane": "normal",
                "Steps": [
                  { "Type": "filter", "Expression": "exists(value.tempF)" },
                  { "Type": "plugin", "Assembly": {{JsonSerializer.Serialize(s_pluginPath)}}, "Class": "{{cls}}", "Settings": {{settings}} }
                ]
              }
            ]
          }
        }
        """;

    [Fact]
    public void Create_PluginFromConfiguration_LoadsAndRunsTheExampleStep()
    {
        Assert.DoesNotContain(AppDomain.CurrentDomain.GetAssemblies(), a => a.GetName().Name == "Appliance.Pipeline.ExampleStep" && a.Location != s_pluginPath);
        var options = ConfigurationBinding.Bind(Config("Appliance.Pipeline.ExampleStep.ScaleStep", """{ "Field": "tempF", "Target": "tempC", "Factor": "0.5", "Offset": "-16" }"""));
        var p = RecordPipeline.Create(options, Lanes);

        Assert.Equal("""{"tempF":212,"tempC":90}""", One(p, """{"tempF":212}"""));
        Assert.Empty(p.Process(Rec("""{"other":1}""")));
        var dead = Assert.Single(p.Process(Rec("""{"tempF":"hot"}""")));
        Assert.Equal((PipelineOutputKind.DeadLetter, "WrongType", "1:plugin"), (dead.Kind, dead.DeadLetter!.ErrorClass, dead.DeadLetter.Step));
    }

    [Fact]
    public void Validate_PluginRejectsSettings_ReportsRouteAndReason()
    {
        var options = ConfigurationBinding.Bind(Config("Appliance.Pipeline.ExampleStep.ScaleStep", """{ "Factor": "x" }"""));
        var error = Assert.Single(PipelineOptionsValidator.Validate(options, Lanes));
        Assert.Equal("Route 'plugged' (Routes[0]): step 1 (plugin): plugin class 'Appliance.Pipeline.ExampleStep.ScaleStep' rejected its settings: setting 'Field' is required (route 'plugged')", error);
    }

    [Fact]
    public void Validate_UnknownPluginClass_ReportsIt()
    {
        var options = ConfigurationBinding.Bind(Config("Appliance.Pipeline.ExampleStep.Nope", "{}"));
        var error = Assert.Single(PipelineOptionsValidator.Validate(options, Lanes));
        Assert.Equal($"Route 'plugged' (Routes[0]): step 1 (plugin): plugin class 'Appliance.Pipeline.ExampleStep.Nope' is not in '{s_pluginPath}'", error);
    }

    [Fact]
    public void Create_MissingPluginAssembly_ThrowsOptionsValidationException()
    {
        var options = new PipelineOptions
        {
            Routes = [new RouteOptions { Name = "r", Sources = ["t"], Lane = "normal", Steps = [new StepOptions { Type = "plugin", Assembly = "/nonexistent/x.dll", Class = "X" }] }],
        };
        var ex = Assert.Throws<OptionsValidationException>(() => RecordPipeline.Create(options, Lanes));
        Assert.Equal(["Route 'r' (Routes[0]): step 0 (plugin): plugin assembly '/nonexistent/x.dll' does not exist"], ex.Failures);
    }
}
