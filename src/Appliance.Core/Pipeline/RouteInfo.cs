using System.Text.RegularExpressions;
using Appliance.Core.Pipeline.Steps;

namespace Appliance.Core.Pipeline;

/// <summary>A validated, compiled route.</summary>
internal sealed class RouteInfo
{
    private readonly Dictionary<string, (string Normal, string Late)> _destinations = new(StringComparer.Ordinal);

    public RouteInfo(RouteOptions options, string siteId, TimeProvider timeProvider, HashSet<string> exactSources, Regex[] sourcePatterns)
    {
        Name = options.Name;
        Lane = options.Lane;
        LateLane = string.IsNullOrEmpty(options.LateLane) ? options.Lane : options.LateLane;
        DestinationTemplate = string.IsNullOrEmpty(options.DestinationTemplate) ? null : options.DestinationTemplate;
        LateDestinationTemplate = string.IsNullOrEmpty(options.LateDestinationTemplate) ? null : options.LateDestinationTemplate;
        SiteId = siteId;
        TimeProvider = timeProvider;
        ExactSources = exactSources;
        SourcePatterns = sourcePatterns;
        Counters = new RouteCounters(Name);
    }

    public string Name { get; }

    public string Lane { get; }

    public string LateLane { get; }

    public string? DestinationTemplate { get; }

    public string? LateDestinationTemplate { get; }

    public string SiteId { get; }

    public TimeProvider TimeProvider { get; }

    public HashSet<string> ExactSources { get; }

    public Regex[] SourcePatterns { get; }

    public List<(string Label, IPipelineStep Step)> Steps { get; } = [];

    public IWindowedStep? Windowed { get; set; }

    public RouteCounters Counters { get; set; }

    public StepDelegate Chain { get; set; } = static _ => { };

    public bool Matches(string topic)
    {
        if (ExactSources.Contains(topic))
        {
            return true;
        }

        foreach (var r in SourcePatterns)
        {
            if (r.IsMatch(topic))
            {
                return true;
            }
        }

        return false;
    }

    public string Destination(string topic, bool late)
    {
        if (!_destinations.TryGetValue(topic, out var d))
        {
            var normal = Apply(DestinationTemplate, topic, Lane) ?? topic;
            d = (normal, Apply(LateDestinationTemplate, topic, LateLane) ?? normal);
            _destinations[topic] = d;
        }

        return late ? d.Late : d.Normal;
    }

    private string? Apply(string? template, string topic, string lane) =>
        template?.Replace("{site}", SiteId, StringComparison.Ordinal)
            .Replace("{topic}", topic, StringComparison.Ordinal)
            .Replace("{lane}", lane, StringComparison.Ordinal);
}
