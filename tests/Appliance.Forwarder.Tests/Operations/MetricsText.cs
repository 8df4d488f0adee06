using System.Globalization;
using System.Text.RegularExpressions;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>Reads samples out of Prometheus text exposition.</summary>
public sealed partial class MetricsText
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> _samples = [];

    public MetricsText(string text)
    {
        Text = text;
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var m = Sample().Match(line);
            Assert.True(m.Success, $"unparsable sample line: {line}");
            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (Match l in Label().Matches(m.Groups["labels"].Value))
            {
                labels[l.Groups[1].Value] = l.Groups[2].Value;
            }

            _samples.Add((m.Groups["name"].Value, labels, double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture)));
        }
    }

    public string Text { get; }

    /// <summary>The value of the one sample of <paramref name="name"/> carrying all <paramref name="labels"/> (name=value pairs).</summary>
    public double Value(string name, params string[] labels)
    {
        var found = Find(name, labels).ToList();
        Assert.True(found.Count == 1, $"expected one sample {name}{{{string.Join(",", labels)}}}, found {found.Count}");
        return found[0];
    }

    public bool Has(string name, params string[] labels) => Find(name, labels).Any();

    private IEnumerable<double> Find(string name, string[] labels)
    {
        var want = labels.Select(l => l.Split('=', 2)).ToList();
        return _samples.Where(s => s.Name == name && want.All(w => s.Labels.TryGetValue(w[0], out var v) && v == w[1])).Select(s => s.Value);
    }

    [GeneratedRegex("^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(?<labels>.*)\\})? (?<value>\\S+)( \\d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"")]
    private static partial Regex Label();
}
