using System.Text.RegularExpressions;
using Appliance.Core.Pipeline.Steps;

namespace Appliance.Core.Pipeline;

/// <summary>Validates and compiles the routes in one pass, so validation and the running pipeline never disagree.</summary>
internal static class PipelineBuilder
{
    private static readonly Regex s_topicName = new("^[a-zA-Z0-9._-]{1,249}$", RegexOptions.CultureInvariant);
    private static readonly Regex s_placeholder = new(@"\{([^{}]*)\}", RegexOptions.CultureInvariant);

    /// <summary>Builds the routes; every problem is added to <paramref name="errors"/> as "Route 'name' (Routes[i]): problem".</summary>
    public static List<RouteInfo> Build(PipelineOptions options, IReadOnlyCollection<string> knownLanes, TimeProvider timeProvider, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(options);
        var routes = new List<RouteInfo>();
        var names = new HashSet<string>(StringComparer.Ordinal);
        var lanes = new HashSet<string>(knownLanes, StringComparer.Ordinal);
        for (var i = 0; i < options.Routes.Count; i++)
        {
            var o = options.Routes[i];
            if (o is null)
            {
                errors.Add($"Routes[{i}]: the route is empty");
                continue;
            }

            var prefix = string.IsNullOrWhiteSpace(o.Name) ? $"Route #{i} (Routes[{i}])" : $"Route '{o.Name}' (Routes[{i}])";
            var problems = new List<string>();
            if (string.IsNullOrWhiteSpace(o.Name))
            {
                problems.Add("'Name' is required");
            }
            else if (!names.Add(o.Name))
            {
                problems.Add($"the name '{o.Name}' is used by an earlier route");
            }

            var exact = new HashSet<string>(StringComparer.Ordinal);
            var patterns = new List<Regex>();
            if (o.Sources.Count == 0)
            {
                problems.Add("'Sources' must list at least one topic or regex: pattern");
            }

            foreach (var source in o.Sources)
            {
                if (source is not null && source.StartsWith(RouteOptions.RegexPrefix, StringComparison.Ordinal))
                {
                    var pattern = source[RouteOptions.RegexPrefix.Length..];
                    try
                    {
                        // Anchored: the pattern must match the whole topic name, so "sensors" does not take "sensors-raw".
                        patterns.Add(new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant | RegexOptions.NonBacktracking));
                    }
                    catch (Exception ex) when (ex is ArgumentException or NotSupportedException)
                    {
                        problems.Add($"source '{source}' is not a valid regular expression: {ex.Message}");
                    }
                }
                else if (source is null || !s_topicName.IsMatch(source))
                {
                    problems.Add($"source '{source}' is not a valid topic name (letters, digits, '.', '_', '-'; or prefix 'regex:' for a pattern)");
                }
                else
                {
                    exact.Add(source);
                }
            }

            CheckLane(o.Lane, nameof(o.Lane), required: true);
            CheckLane(o.LateLane, nameof(o.LateLane), required: false);
            CheckTemplate(o.DestinationTemplate, nameof(o.DestinationTemplate));
            CheckTemplate(o.LateDestinationTemplate, nameof(o.LateDestinationTemplate));

            var route = new RouteInfo(o, options.SiteId ?? string.Empty, timeProvider, exact, [.. patterns]);
            var windowed = new List<string>();
            for (var j = 0; j < o.Steps.Count; j++)
            {
                var s = o.Steps[j];
                var stepProblems = new List<string>();
                var step = s is null ? null : StepFactory.Create(s, o.Name ?? string.Empty, stepProblems);
                if (s is null)
                {
                    stepProblems.Add("the step is empty");
                }

                var type = s?.Type?.Trim().ToLowerInvariant() ?? string.Empty;
                foreach (var p in stepProblems)
                {
                    problems.Add($"step {j} ({(type.Length == 0 ? "no type" : type)}): {p}");
                }

                if (step is null)
                {
                    continue;
                }

                route.Steps.Add(($"{j}:{type}", step));
                if (step is IWindowedStep w)
                {
                    windowed.Add($"{j} ({type})");
                    route.Windowed = w;
                }
            }

            if (windowed.Count > 1)
            {
                // Two windowed steps would need two clocks per checkpoint and an upstream window could change what a
                // downstream one rebuilds after a restart; one per route keeps the exactly-once rule provable.
                problems.Add($"a route may have at most one windowed step (downsample or dedupe); steps {string.Join(", ", windowed)} are windowed");
            }

            foreach (var p in problems)
            {
                errors.Add($"{prefix}: {p}");
            }

            if (problems.Count == 0)
            {
                routes.Add(route);
            }

            void CheckLane(string? lane, string setting, bool required)
            {
                if (string.IsNullOrWhiteSpace(lane))
                {
                    if (required)
                    {
                        problems.Add($"'{setting}' is required (known lanes: {Known()})");
                    }
                }
                else if (!lanes.Contains(lane))
                {
                    problems.Add($"unknown lane '{lane}' in '{setting}' (known lanes: {Known()})");
                }
            }

            void CheckTemplate(string? template, string setting)
            {
                if (string.IsNullOrEmpty(template))
                {
                    return;
                }

                foreach (Match m in s_placeholder.Matches(template))
                {
                    if (m.Groups[1].Value is not ("site" or "topic" or "lane"))
                    {
                        problems.Add($"'{setting}' has the unknown placeholder '{m.Value}' at column {m.Index + 1} (known: {{site}}, {{topic}}, {{lane}})");
                    }
                }

                var rest = s_placeholder.Replace(template, "x");
                if (rest.Contains('{') || rest.Contains('}'))
                {
                    problems.Add($"'{setting}' '{template}' has an unbalanced '{{' or '}}'");
                }
                else if (!s_topicName.IsMatch(rest))
                {
                    problems.Add($"'{setting}' '{template}' does not produce a valid topic name (letters, digits, '.', '_', '-')");
                }
            }
        }

        return routes;

        string Known() => knownLanes.Count == 0 ? "none configured" : string.Join(", ", knownLanes);
    }
}
