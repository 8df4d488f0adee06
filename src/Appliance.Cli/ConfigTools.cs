using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Buffer;
using Microsoft.Extensions.Configuration;

namespace Appliance.Cli;

/// <summary>
/// Checks one part of a configuration the way the service does at start-up. appliancectl runs every registered
/// validator; the forwarder's own validators plug in here (see <see cref="ConfigTools.DefaultValidators"/>).
/// </summary>
public interface IConfigurationValidator
{
    /// <summary>What is checked, e.g. <c>Buffer</c>.</summary>
    string Name { get; }

    /// <summary>Every problem, each naming its configuration key; empty when valid.</summary>
    IEnumerable<string> Validate(IConfiguration configuration);
}

/// <summary>The <c>Buffer</c> section, checked with <see cref="DurableBuffer.Validate"/> exactly as the service does.</summary>
public sealed class BufferConfigurationValidator : IConfigurationValidator
{
    /// <inheritdoc />
    public string Name => BufferOptions.SectionName;

    /// <inheritdoc />
    public IEnumerable<string> Validate(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(BufferOptions.SectionName);
        var options = new BufferOptions();
        var problems = new List<string>();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException e)
        {
            return [ConfigTools.Chain(e)];
        }

        // The binder silently skips a list element it cannot convert (e.g. FullPolicy = "sometimes"), which would make a
        // lane vanish; bind each lane on its own so the error names the key instead.
        foreach (var lane in section.GetSection(nameof(BufferOptions.Lanes)).GetChildren())
        {
            try
            {
                lane.Get<LaneOptions>();
            }
            catch (InvalidOperationException e)
            {
                problems.Add(ConfigTools.Chain(e));
            }
        }

        return problems.Count > 0 ? problems : DurableBuffer.Validate(options);
    }
}

/// <summary>Loading, validating and printing configuration files.</summary>
public static class ConfigTools
{
    /// <summary>Key fragments whose values are secrets (case-insensitive substring of the last key segment or the whole key).</summary>
    public static readonly IReadOnlyList<string> SecretMarkers = ["password", "secret", "sasl.password", "ssl.key.password", "ssl.key.pem", "token"];

    /// <summary>Replaces every secret value.</summary>
    public const string Redacted = "***";

    /// <summary>The validators appliancectl runs: the buffer's today; the forwarder's join when they move out of its executable.</summary>
    public static IReadOnlyList<IConfigurationValidator> DefaultValidators { get; } = [new BufferConfigurationValidator()];

    /// <summary>True when the value of <paramref name="key"/> must never be printed.</summary>
    public static bool IsSecret(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return SecretMarkers.Any(m => key.Contains(m, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Checks JSON syntax (comments and trailing commas allowed, as the service's loader allows); null when fine.</summary>
    public static string? SyntaxError(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"{path}: cannot read: {e.Message}";
        }

        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
            return doc.RootElement.ValueKind == JsonValueKind.Object ? null : $"{path}: the top level must be a JSON object";
        }
        catch (JsonException e)
        {
            return string.Create(CultureInfo.InvariantCulture, $"{path}: invalid JSON at line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}: {FirstSentence(e.Message)}");
        }
    }

    /// <summary>Loads the files in order (later files override earlier ones), as the service layers its sources.</summary>
    public static IConfigurationRoot Load(IEnumerable<string> files)
    {
        var builder = new ConfigurationBuilder();
        foreach (var f in files)
        {
            builder.AddJsonFile(Path.GetFullPath(f), optional: false, reloadOnChange: false);
        }

        return builder.Build();
    }

    /// <summary>Every problem in the files: syntax first (then nothing else is checked), then each validator's.</summary>
    public static IReadOnlyList<string> Validate(IReadOnlyList<string> files, IEnumerable<IConfigurationValidator> validators)
    {
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(validators);
        var syntax = files.Select(SyntaxError).OfType<string>().ToList();
        if (syntax.Count > 0)
        {
            return syntax;
        }

        var configuration = Load(files);
        return validators.SelectMany(v => v.Validate(configuration)).ToList();
    }

    /// <summary>The effective configuration as indented JSON with every secret replaced by <see cref="Redacted"/>; keys sorted.</summary>
    public static string ShowRedacted(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var root = ToNode(configuration.GetChildren(), "");
        var text = root.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        return text.Replace("\r\n", "\n", StringComparison.Ordinal) + "\n";
    }

    internal static string Chain(Exception e)
    {
        var parts = new List<string>();
        for (var x = e; x is not null; x = x.InnerException)
        {
            parts.Add(x.Message);
        }

        return string.Join(" -> ", parts);
    }

    private static JsonNode ToNode(IEnumerable<IConfigurationSection> children, string path)
    {
        var list = children.ToList();
        // Configuration flattens arrays to keys 0..n-1; print them as arrays again.
        var isArray = list.Count > 0 && list.Select((c, i) => c.Key == i.ToString(CultureInfo.InvariantCulture)).All(b => b)
            && list.Count == list.Select(c => c.Key).Distinct(StringComparer.Ordinal).Count();
        if (isArray)
        {
            var array = new JsonArray();
            foreach (var c in list.OrderBy(c => int.Parse(c.Key, CultureInfo.InvariantCulture)))
            {
                array.Add(Value(c));
            }

            return array;
        }

        var obj = new JsonObject();
        foreach (var c in list.OrderBy(c => c.Key, StringComparer.Ordinal))
        {
            obj[c.Key] = Value(c);
        }

        return obj;
    }

    private static JsonNode? Value(IConfigurationSection c)
    {
        var children = c.GetChildren().ToList();
        if (IsSecret(c.Key) || IsSecret(c.Path))
        {
            // A secret may also be an object (e.g. a structured credential): hide all of it.
            return JsonValue.Create(Redacted);
        }

        return children.Count > 0 ? ToNode(children, c.Path) : c.Value is null ? null : JsonValue.Create(c.Value);
    }

    private static string FirstSentence(string message)
    {
        var i = message.IndexOf(" Path:", StringComparison.Ordinal);
        return (i > 0 ? message[..i] : message).Trim();
    }
}
