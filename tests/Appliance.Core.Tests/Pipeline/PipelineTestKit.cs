using System.Text;
using Appliance.Core.Pipeline;
using Appliance.Core.Records;

namespace Appliance.Core.Tests.Pipeline;

/// <summary>Builds pipelines and records for the pipeline tests.</summary>
internal static class PipelineTestKit
{
    public static readonly string[] Lanes = ["critical", "high", "normal", "bulk"];

    public static RecordPipeline Build(params StepOptions[] steps) =>
        Build(new RouteOptions { Name = "r", Sources = ["t"], Lane = "normal", Steps = [.. steps] });

    public static RecordPipeline Build(params RouteOptions[] routes) =>
        RecordPipeline.Create(new PipelineOptions { SiteId = "s1", Routes = [.. routes] }, Lanes);

    public static EdgeRecord Rec(string? json, string? key = "k", long offset = 0, int partition = 0, string topic = "t", long ts = 0, params (string Name, string? Value)[] headers) =>
        new(
            new SourcePosition(topic, partition, offset),
            ts,
            key is null ? null : Encoding.UTF8.GetBytes(key),
            json is null ? null : Encoding.UTF8.GetBytes(json),
            [.. headers.Select(h => new RecordHeader(h.Name, h.Value is null ? null : Encoding.UTF8.GetBytes(h.Value)))]);

    public static string? ValueText(this PipelineOutput o) => o.Record.Value is null ? null : Encoding.UTF8.GetString(o.Record.Value);

    public static string? KeyText(this PipelineOutput o) => o.Record.Key is null ? null : Encoding.UTF8.GetString(o.Record.Key);

    public static string? Header(this PipelineOutput o, string name)
    {
        var h = o.Record.Headers.LastOrDefault(x => x.Key == name);
        return h.Key is null || h.Value is null ? null : Encoding.UTF8.GetString(h.Value);
    }

    /// <summary>Processes one JSON value through a one-route pipeline and returns the single output's value.</summary>
    public static string? One(RecordPipeline p, string json, string key = "k")
    {
        var outs = p.Process(Rec(json, key));
        Assert.Single(outs);
        return outs[0].ValueText();
    }
}
