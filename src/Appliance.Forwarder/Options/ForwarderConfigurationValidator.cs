using System.ComponentModel.DataAnnotations;
using System.Text.RegularExpressions;
using Appliance.Buffer;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Options;

/// <summary>
/// Validates the whole configuration at start-up and names the key of every problem, so one message tells the
/// technician what to fix (e.g. <c>Routes:1:Lane: unknown lane 'fast'</c>).
/// </summary>
public sealed class ForwarderConfigurationValidator : IValidateOptions<ForwarderConfiguration>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, ForwarderConfiguration options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = Problems(options).ToList();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <summary>Every problem, each as "Key: rule".</summary>
    public static IEnumerable<string> Problems(ForwarderConfiguration c)
    {
        ArgumentNullException.ThrowIfNull(c);
        foreach (var p in Annotations(c.Site, "Site"))
        {
            yield return p;
        }

        foreach (var p in Annotations(c.Edge, "Edge"))
        {
            yield return p;
        }

        foreach (var p in Annotations(c.Central, "Central"))
        {
            yield return p;
        }

        foreach (var p in Annotations(c.Uplink, "Uplink"))
        {
            yield return p;
        }

        foreach (var p in DurableBuffer.Validate(c.Buffer))
        {
            yield return p;
        }

        if (c.Uplink.BackoffMaxMs < c.Uplink.BackoffBaseMs)
        {
            yield return $"Uplink:BackoffMaxMs: must be at least Uplink:BackoffBaseMs ({c.Uplink.BackoffBaseMs})";
        }

        if (c.Central.Delivery == DeliveryMode.ExactlyOnce && c.Central.TransactionTimeoutMs < 1000)
        {
            yield return "Central:TransactionTimeoutMs: must be at least 1000";
        }

        foreach (var (key, value) in new[] { ("Central:DestinationTemplate", c.Central.DestinationTemplate), ("Central:GapTopic", c.Central.GapTopic), ("Edge:DeadLetterTopic", c.Edge.DeadLetterTopic) })
        {
            if (TopicTemplate.TryParse(value, out var err) is null)
            {
                yield return $"{key}: {err}";
            }
        }

        if (!Regex.IsMatch(c.Central.CheckpointTopic ?? "", "^[a-zA-Z0-9._-]{1,249}$"))
        {
            yield return $"Central:CheckpointTopic: '{c.Central.CheckpointTopic}' is not a valid topic name";
        }

        if (c.Routes.Count == 0)
        {
            yield return "Routes: at least one route is required (Routes:0:Topics, Routes:0:Lane)";
        }

        var lanes = c.Buffer.Lanes.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        for (var i = 0; i < c.Routes.Count; i++)
        {
            var r = c.Routes[i];
            var key = $"Routes:{i}";
            if (string.IsNullOrEmpty(r.Lane))
            {
                yield return $"{key}:Lane: is required";
            }
            else if (!lanes.Contains(r.Lane))
            {
                yield return $"{key}:Lane: unknown lane '{r.Lane}' (Buffer:Lanes has: {string.Join(", ", lanes)})";
            }

            if (r.Topics.Count == 0)
            {
                yield return $"{key}:Topics: at least one topic name or ^regex is required";
            }

            for (var j = 0; j < r.Topics.Count; j++)
            {
                var t = r.Topics[j];
                if (string.IsNullOrWhiteSpace(t))
                {
                    yield return $"{key}:Topics:{j}: must not be empty";
                }
                else if (t.StartsWith('^'))
                {
                    string? error = null;
                    try
                    {
                        _ = new Regex(t, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
                    }
                    catch (ArgumentException e)
                    {
                        error = e.Message;
                    }

                    if (error is not null)
                    {
                        yield return $"{key}:Topics:{j}: invalid regular expression '{t}': {error}";
                    }
                }
                else if (!Regex.IsMatch(t, "^[a-zA-Z0-9._-]{1,249}$"))
                {
                    yield return $"{key}:Topics:{j}: '{t}' is not a valid topic name (use a leading ^ for a regular expression)";
                }
            }

            if (r.Destination is not null && TopicTemplate.TryParse(r.Destination, out var templateError) is null)
            {
                yield return $"{key}:Destination: {templateError}";
            }

            if (r.LateDestination is not null && TopicTemplate.TryParse(r.LateDestination, out var lateError) is null)
            {
                yield return $"{key}:LateDestination: {lateError}";
            }

            if (!string.IsNullOrEmpty(r.LateLane) && !lanes.Contains(r.LateLane))
            {
                yield return $"{key}:LateLane: unknown lane '{r.LateLane}' (Buffer:Lanes has: {string.Join(", ", lanes)})";
            }
        }

        // Steps (unknown type, bad regex, expression syntax, ...): the pipeline's own validator, naming the route and step.
        foreach (var p in Ingest.PipelineProcessor.Problems(c))
        {
            yield return p;
        }
    }

    private static IEnumerable<string> Annotations(object section, string prefix)
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(section, new ValidationContext(section), results, validateAllProperties: true);
        return results.Select(r => $"{prefix}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}");
    }
}
