using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>Writes constants and metadata into value fields or headers.</summary>
internal sealed class SetStep : IPipelineStep
{
    private readonly (FieldPath Target, Func<RecordContext, JsonNode?> Value)[] _assignments;
    private readonly bool _touchesValue;

    private SetStep((FieldPath, Func<RecordContext, JsonNode?>)[] assignments)
    {
        _assignments = assignments;
        _touchesValue = assignments.Any(a => a.Item1.Root == PathRoot.Value);
    }

    public static bool TryCreate(Dictionary<string, string> settings, List<string> errors, out SetStep step)
    {
        step = null!;
        if (settings.Count == 0)
        {
            errors.Add("'Set' must list at least one target");
            return false;
        }

        var list = new List<(FieldPath, Func<RecordContext, JsonNode?>)>();
        foreach (var (target, spec) in settings)
        {
            if (!FieldPath.TryParse(target, out var path, out var error))
            {
                errors.Add($"Set target {error}");
                continue;
            }

            if (!(path.Root == PathRoot.Header || (path.Root == PathRoot.Value && path.Segments.Length > 0)))
            {
                errors.Add($"Set target '{target}' must be 'value.NAME...' or 'header.NAME'");
                continue;
            }

            if (!TryCompileValue(spec ?? string.Empty, out var factory, out error))
            {
                errors.Add($"Set '{target}': {error}");
                continue;
            }

            list.Add((path, factory));
        }

        if (list.Count != settings.Count)
        {
            return false;
        }

        step = new SetStep([.. list]);
        return true;
    }

    public void Invoke(RecordContext context, StepDelegate next)
    {
        var value = _touchesValue ? context.Value : null;
        foreach (var (target, factory) in _assignments)
        {
            var node = factory(context);
            if (target.Root == PathRoot.Header)
            {
                context.SetHeader(target.Segments[0], node switch
                {
                    null => null,
                    JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
                    _ => JsonWire.ToText(node),
                });
            }
            else
            {
                target.GetParent(value!, create: true)![target.Leaf] = node;
            }
        }

        if (_touchesValue)
        {
            context.MarkValueChanged();
        }

        next(context);
    }

    private static bool TryCompileValue(string spec, out Func<RecordContext, JsonNode?> factory, out string error)
    {
        error = string.Empty;
        if (spec.StartsWith("$$", StringComparison.Ordinal))
        {
            var text = spec[1..];
            factory = _ => JsonValue.Create(text);
            return true;
        }

        if (spec.StartsWith('$'))
        {
            Func<RecordContext, JsonNode?>? f = spec switch
            {
                "$site" => c => JsonValue.Create(c.SiteId),
                "$route" => c => JsonValue.Create(c.Route),
                "$lane" => c => JsonValue.Create(c.Lane),
                "$topic" => c => JsonValue.Create(c.Source.Topic),
                "$partition" => c => JsonValue.Create(c.Source.Partition),
                "$offset" => c => JsonValue.Create(c.Source.Offset),
                "$timestamp" => c => JsonValue.Create(c.TimestampMs),
                "$timestampIso" => c => JsonValue.Create(Iso(c.TimestampMs)),
                "$now" => c => JsonValue.Create(c.TimeProvider.GetUtcNow().ToUnixTimeMilliseconds()),
                _ => null,
            };
            if (f is null)
            {
                factory = null!;
                error = $"unknown metadata token '{spec}' (known: $site, $route, $lane, $topic, $partition, $offset, $timestamp, $timestampIso, $now; write $$ for a literal $)";
                return false;
            }

            factory = f;
            return true;
        }

        JsonNode? constant;
        try
        {
            constant = JsonNode.Parse(spec);
        }
        catch (JsonException)
        {
            constant = JsonValue.Create(spec);
        }

        // A node can only have one parent, so every record gets its own copy of the constant.
        factory = constant is null ? static _ => null : _ => constant.DeepClone();
        return true;
    }

    private static string Iso(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
