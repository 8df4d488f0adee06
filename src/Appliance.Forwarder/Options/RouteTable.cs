using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace Appliance.Forwarder.Options;

/// <summary>Where records of one edge topic go: route name, lane and central topic.</summary>
/// <param name="Route">The route name.</param>
/// <param name="Lane">The buffer lane.</param>
/// <param name="DestinationTopic">The central topic.</param>
public sealed record ResolvedRoute(string Route, string Lane, string DestinationTopic);

/// <summary>
/// Maps edge topics to routes: the first route whose sources match wins. Sources are exact topic names or regular
/// expressions starting with <c>^</c> (matched against the whole name, as librdkafka does for subscriptions).
/// Thread-safe; results are cached per topic.
/// </summary>
public sealed class RouteTable
{
    private readonly List<(string Name, string Lane, List<string> Exact, List<Regex> Patterns, TopicTemplate Template)> _routes = [];
    private readonly ConcurrentDictionary<string, ResolvedRoute?> _cache = new(StringComparer.Ordinal);
    private readonly string _site;

    /// <summary>Builds the table from validated configuration.</summary>
    public RouteTable(ForwarderConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _site = config.Site.Id;
        var defaultTemplate = TopicTemplate.TryParse(config.Central.DestinationTemplate, out var err)
            ?? throw new ArgumentException($"Central:DestinationTemplate: {err}", nameof(config));
        foreach (var r in config.Routes)
        {
            var template = r.Destination is null ? defaultTemplate
                : TopicTemplate.TryParse(r.Destination, out var e) ?? throw new ArgumentException($"route '{r.Name}': {e}", nameof(config));
            var exact = r.Topics.Where(t => !t.StartsWith('^')).ToList();
            var patterns = r.Topics.Where(t => t.StartsWith('^')).Select(p => new Regex(p, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1))).ToList();
            _routes.Add((r.Name ?? r.Lane, r.Lane, exact, patterns, template));
        }

        Subscription = config.Routes.SelectMany(r => r.Topics).Distinct(StringComparer.Ordinal).ToList();
    }

    /// <summary>Every source of every route: the edge consumer's subscription.</summary>
    public IReadOnlyList<string> Subscription { get; }

    /// <summary>The lanes used by at least one route.</summary>
    public IEnumerable<string> Lanes => _routes.Select(r => r.Lane).Distinct(StringComparer.Ordinal);

    /// <summary>The route for an edge topic, or null when no route takes it.</summary>
    public ResolvedRoute? Resolve(string topic) => _cache.TryGetValue(topic, out var cached) ? cached : _cache.GetOrAdd(topic, t =>
    {
        foreach (var r in _routes)
        {
            if (r.Exact.Contains(t, StringComparer.Ordinal) || r.Patterns.Any(p => IsFullMatch(p, t)))
            {
                return new ResolvedRoute(r.Name, r.Lane, r.Template.Render(_site, t, r.Lane));
            }
        }

        return null;
    });

    private static bool IsFullMatch(Regex regex, string topic)
    {
        var m = regex.Match(topic);
        return m.Success && m.Index == 0 && m.Length == topic.Length;
    }
}
