using System.Text;
using System.Text.RegularExpressions;

namespace Appliance.Forwarder.Options;

/// <summary>
/// A destination topic template with placeholders <c>{site}</c>, <c>{topic}</c> and <c>{lane}</c> (MirrorMaker 2
/// style, e.g. <c>{site}.{topic}</c>); the word <c>keep</c> means the edge topic name unchanged.
/// </summary>
public sealed partial class TopicTemplate
{
    /// <summary>The template meaning "keep the edge topic name".</summary>
    public const string Keep = "keep";

    private static readonly string[] Placeholders = ["site", "topic", "lane"];
    private readonly string _template;

    private TopicTemplate(string template) => _template = template;

    /// <summary>The template text.</summary>
    public override string ToString() => _template;

    /// <summary>Parses a template; returns null and a reason when it is invalid.</summary>
    public static TopicTemplate? TryParse(string? text, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "must not be empty";
            return null;
        }

        if (text == Keep)
        {
            return new TopicTemplate("{topic}");
        }

        foreach (Match m in PlaceholderRegex().Matches(text))
        {
            var name = m.Groups[1].Value;
            if (!Placeholders.Contains(name, StringComparer.Ordinal))
            {
                error = $"unknown placeholder '{{{name}}}' in '{text}' (known: {{site}}, {{topic}}, {{lane}})";
                return null;
            }
        }

        var literal = PlaceholderRegex().Replace(text, "x");
        if (!LiteralRegex().IsMatch(literal))
        {
            error = $"'{text}' contains characters not allowed in topic names (a-z A-Z 0-9 . _ -) or unbalanced braces";
            return null;
        }

        return new TopicTemplate(text);
    }

    /// <summary>Renders the topic name.</summary>
    public string Render(string site, string topic, string lane)
    {
        var sb = new StringBuilder(_template);
        sb.Replace("{site}", site).Replace("{topic}", topic).Replace("{lane}", lane);
        return sb.ToString();
    }

    [GeneratedRegex(@"\{([^{}]*)\}")]
    private static partial Regex PlaceholderRegex();

    [GeneratedRegex(@"^[a-zA-Z0-9._-]{1,249}$")]
    private static partial Regex LiteralRegex();
}
