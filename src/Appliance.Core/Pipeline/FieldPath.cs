using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline;

/// <summary>What a path starts from.</summary>
internal enum PathRoot
{
    Value,
    Key,
    Header,
    Timestamp,
    Topic,
    Partition,
    Offset,
}

/// <summary>
/// A parsed path: <c>value</c>, <c>value.a.b</c>, <c>key</c>, <c>header.name</c>, <c>timestamp</c>, <c>topic</c>,
/// <c>partition</c> or <c>offset</c>. Segments are identifiers: a letter or '_', then letters, digits, '_' or '-'.
/// </summary>
internal sealed class FieldPath
{
    private FieldPath(string text, PathRoot root, string[] segments)
    {
        Text = text;
        Root = root;
        Segments = segments;
    }

    public string Text { get; }

    public PathRoot Root { get; }

    /// <summary>For <see cref="PathRoot.Value"/>: the property names below the value; for a header: one element, the name.</summary>
    public string[] Segments { get; }

    /// <summary>For value paths: the path without the "value." prefix, used as an output field name.</summary>
    public string RelativeName => string.Join('.', Segments);

    public override string ToString() => Text;

    public static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_';

    public static bool IsIdentifierPart(char c) => char.IsAsciiLetterOrDigit(c) || c is '_' or '-';

    public static bool TryParse(string? text, out FieldPath path, out string error)
    {
        path = null!;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "the path is empty";
            return false;
        }

        var parts = text.Split('.');
        foreach (var p in parts)
        {
            if (p.Length == 0 || !IsIdentifierStart(p[0]) || !p.All(IsIdentifierPart))
            {
                error = $"'{text}' is not a valid path (segments are identifiers separated by '.')";
                return false;
            }
        }

        var rest = parts[1..];
        switch (parts[0])
        {
            case "value":
                path = new FieldPath(text, PathRoot.Value, rest);
                break;
            case "header" when rest.Length == 1:
                path = new FieldPath(text, PathRoot.Header, rest);
                break;
            case "header":
                error = $"'{text}': a header path is 'header.NAME'";
                return false;
            case "key" or "timestamp" or "topic" or "partition" or "offset" when rest.Length == 0:
                path = new FieldPath(text, Enum.Parse<PathRoot>(parts[0], ignoreCase: true), rest);
                break;
            default:
                error = $"'{text}' is not a valid path: it must start with value, key, header, timestamp, topic, partition or offset";
                return false;
        }

        error = string.Empty;
        return true;
    }

    /// <summary>Parses a path that must address a field inside the value (<c>value.x...</c>).</summary>
    public static bool TryParseValueField(string? text, out FieldPath path, out string error)
    {
        if (!TryParse(text, out path, out error))
        {
            return false;
        }

        if (path.Root != PathRoot.Value || path.Segments.Length == 0)
        {
            error = $"'{text}' must be a field of the value, like 'value.name'";
            return false;
        }

        return true;
    }

    /// <summary>Looks the value path up below <paramref name="root"/>; true when present (the node may be null for JSON null).</summary>
    public bool TryGet(JsonObject root, out JsonNode? node)
    {
        JsonNode? current = root;
        foreach (var s in Segments)
        {
            if (current is not JsonObject o || !o.TryGetPropertyValue(s, out current))
            {
                node = null;
                return false;
            }
        }

        node = current;
        return true;
    }

    /// <summary>The object holding the last segment, creating intermediate objects when <paramref name="create"/> is set.</summary>
    public JsonObject? GetParent(JsonObject root, bool create)
    {
        var current = root;
        for (var i = 0; i < Segments.Length - 1; i++)
        {
            if (current.TryGetPropertyValue(Segments[i], out var child) && child is JsonObject co)
            {
                current = co;
                continue;
            }

            if (!create)
            {
                return null;
            }

            if (child is not null)
            {
                throw new PipelineDataException(
                    PipelineDataException.WrongType,
                    $"'{string.Join('.', Segments[..(i + 1)])}' is not an object, so '{Text}' cannot be written");
            }

            var created = new JsonObject();
            current[Segments[i]] = created;
            current = created;
        }

        return current;
    }

    public string Leaf => Segments[^1];
}
