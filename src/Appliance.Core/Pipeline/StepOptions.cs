using System.Globalization;
using System.Text;

namespace Appliance.Core.Pipeline;

/// <summary>
/// One step of a route. <see cref="Type"/> selects the step; each step type reads only the settings listed in
/// docs/pipeline.md (the others must stay unset, which validation checks). Binds directly from
/// Microsoft.Extensions.Configuration (appsettings.json).
/// </summary>
public sealed class StepOptions
{
    /// <summary>
    /// The step type: <c>filter</c>, <c>project</c>, <c>rename</c>, <c>set</c>, <c>mask</c>, <c>sample</c>,
    /// <c>downsample</c>, <c>dedupe</c> or <c>plugin</c> (case-insensitive). Required.
    /// </summary>
    public string Type { get; set; } = string.Empty;

    /// <summary>filter: the predicate (see docs/pipeline.md, "Expression syntax").</summary>
    public string? Expression { get; set; }

    /// <summary>filter: <c>keep</c> (keep records the expression is true for) or <c>drop</c> (drop them). The default value is <c>keep</c>.</summary>
    public string? Action { get; set; }

    /// <summary>project: the value paths to keep (everything else is removed), for example <c>value.temp</c>.</summary>
    public List<string> Keep { get; set; } = [];

    /// <summary>project: the value paths to remove.</summary>
    public List<string> Drop { get; set; } = [];

    /// <summary>rename: source path to target path, for example <c>"value.t": "value.temp"</c>.</summary>
    public Dictionary<string, string> Rename { get; set; } = [];

    /// <summary>
    /// set: target path (<c>value.x</c> or <c>header.x</c>) to value. A value is a metadata token
    /// (<c>$site</c>, <c>$route</c>, <c>$lane</c>, <c>$topic</c>, <c>$partition</c>, <c>$offset</c>,
    /// <c>$timestamp</c>, <c>$timestampIso</c>, <c>$now</c>), or a JSON literal (<c>42</c>, <c>true</c>,
    /// <c>"text"</c>), or otherwise plain text. <c>$$</c> at the start stands for a literal <c>$</c>.
    /// </summary>
    public Dictionary<string, string> Set { get; set; } = [];

    /// <summary>
    /// mask: the paths to mask (<c>value.x</c>, <c>key</c>, <c>header.x</c>); downsample: the numeric value
    /// paths to aggregate (empty: every numeric top-level property).
    /// </summary>
    public List<string> Fields { get; set; } = [];

    /// <summary>mask: <c>hash</c> (keyed HMAC-SHA256) or <c>redact</c>. The default value is <c>hash</c>.</summary>
    public string? Method { get; set; }

    /// <summary>mask (hash): the HMAC key, at least 16 bytes once decoded. A secret: never logged.</summary>
    public string? HmacKey { get; set; }

    /// <summary>mask (hash): how <see cref="HmacKey"/> is written: <c>utf8</c>, <c>hex</c> or <c>base64</c>. The default value is <c>utf8</c>.</summary>
    public string? HmacKeyFormat { get; set; }

    /// <summary>mask (hash): the output encoding of the digest, <c>hex</c> (lower case) or <c>base64</c>. The default value is <c>hex</c>.</summary>
    public string? Encoding { get; set; }

    /// <summary>mask (redact): the replacement text. The default value is <c>***</c>.</summary>
    public string? Replacement { get; set; }

    /// <summary>sample: keep 1 record in N per key; at least 1.</summary>
    public int? N { get; set; }

    /// <summary>
    /// sample: <c>hash</c> (stateless: keep when a hash of key and offset is divisible by N; stable across
    /// restarts) or <c>count</c> (exact: keep the 1st, (N+1)th, ... record per key and partition; the count
    /// restarts with the process). The default value is <c>hash</c>.
    /// </summary>
    public string? Mode { get; set; }

    /// <summary>downsample, dedupe: the tumbling window length; more than zero, whole milliseconds.</summary>
    public TimeSpan? Window { get; set; }

    /// <summary>downsample, dedupe: how far behind the highest event time a record may be and still join its window. The default value is zero.</summary>
    public TimeSpan? AllowedLateness { get; set; }

    /// <summary>
    /// downsample, dedupe: the value path holding the event time (Unix epoch milliseconds as a number, or an
    /// ISO-8601 string). The default value is null: the record timestamp is used.
    /// </summary>
    public string? TimestampField { get; set; }

    /// <summary>dedupe: the value path of an identifier; records with equal identifiers are repeats. The default value is null: key and value bytes are compared.</summary>
    public string? IdField { get; set; }

    /// <summary>plugin: the path of the assembly holding the step (absolute, or relative to the application base directory).</summary>
    public string? Assembly { get; set; }

    /// <summary>plugin: the full name of a class implementing <see cref="IPipelineStep"/>.</summary>
    public string? Class { get; set; }

    /// <summary>plugin: free settings passed to the plugin's constructor.</summary>
    public Dictionary<string, string?> Settings { get; set; } = [];

    /// <summary>A loggable description: the type and the settings in use, with the HMAC key redacted.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder(Type);
        void Add(string name, object? v)
        {
            if (v is null || (v is System.Collections.ICollection c && c.Count == 0))
            {
                return;
            }

            var text = v switch
            {
                IEnumerable<string> list => "[" + string.Join(", ", list) + "]",
                IEnumerable<KeyValuePair<string, string>> map => "{" + string.Join(", ", map.Select(p => p.Key + "=" + p.Value)) + "}",
                IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
                _ => v.ToString(),
            };
            sb.Append(' ').Append(name).Append('=').Append(text);
        }

        Add(nameof(Expression), Expression);
        Add(nameof(Action), Action);
        Add(nameof(Keep), Keep);
        Add(nameof(Drop), Drop);
        Add(nameof(Rename), Rename);
        Add(nameof(Set), Set);
        Add(nameof(Fields), Fields);
        Add(nameof(Method), Method);
        Add(nameof(HmacKey), HmacKey is null ? null : "<redacted>");
        Add(nameof(HmacKeyFormat), HmacKeyFormat);
        Add(nameof(Encoding), Encoding);
        Add(nameof(Replacement), Replacement);
        Add(nameof(N), N);
        Add(nameof(Mode), Mode);
        Add(nameof(Window), Window);
        Add(nameof(AllowedLateness), AllowedLateness);
        Add(nameof(TimestampField), TimestampField);
        Add(nameof(IdField), IdField);
        Add(nameof(Assembly), Assembly);
        Add(nameof(Class), Class);
        // Plugin settings may hold secrets: only their names are shown.
        Add(nameof(Settings), Settings.Keys.ToList());
        return sb.ToString();
    }
}
