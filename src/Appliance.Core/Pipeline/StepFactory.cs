using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using Appliance.Core.Pipeline.Expressions;
using Appliance.Core.Pipeline.Steps;

namespace Appliance.Core.Pipeline;

/// <summary>Builds a step from its options, collecting every problem instead of stopping at the first.</summary>
internal static class StepFactory
{
    public const string Filter = "filter";
    public const string Project = "project";
    public const string Rename = "rename";
    public const string Set = "set";
    public const string Mask = "mask";
    public const string Sample = "sample";
    public const string Downsample = "downsample";
    public const string Dedupe = "dedupe";
    public const string Plugin = "plugin";

    public static readonly string[] KnownTypes = [Filter, Project, Rename, Set, Mask, Sample, Downsample, Dedupe, Plugin];

    private static readonly Dictionary<string, string[]> s_allowedSettings = new(StringComparer.Ordinal)
    {
        [Filter] = [nameof(StepOptions.Expression), nameof(StepOptions.Action)],
        [Project] = [nameof(StepOptions.Keep), nameof(StepOptions.Drop)],
        [Rename] = [nameof(StepOptions.Rename)],
        [Set] = [nameof(StepOptions.Set)],
        [Mask] = [nameof(StepOptions.Fields), nameof(StepOptions.Method), nameof(StepOptions.HmacKey), nameof(StepOptions.HmacKeyFormat), nameof(StepOptions.Encoding), nameof(StepOptions.Replacement)],
        [Sample] = [nameof(StepOptions.N), nameof(StepOptions.Mode)],
        [Downsample] = [nameof(StepOptions.Window), nameof(StepOptions.AllowedLateness), nameof(StepOptions.TimestampField), nameof(StepOptions.Fields)],
        [Dedupe] = [nameof(StepOptions.Window), nameof(StepOptions.AllowedLateness), nameof(StepOptions.TimestampField), nameof(StepOptions.IdField)],
        [Plugin] = [nameof(StepOptions.Assembly), nameof(StepOptions.Class), nameof(StepOptions.Settings)],
    };

    /// <summary>Creates the step; on failure adds messages (without the route/step prefix) to <paramref name="errors"/> and returns null.</summary>
    public static IPipelineStep? Create(StepOptions o, string route, List<string> errors)
    {
        var type = (o.Type ?? string.Empty).Trim().ToLowerInvariant();
        if (!s_allowedSettings.TryGetValue(type, out var allowed))
        {
            errors.Add(string.IsNullOrEmpty(type)
                ? "'Type' is required"
                : $"unknown step type '{o.Type}' (known: {string.Join(", ", KnownTypes)})");
            return null;
        }

        var before = errors.Count;
        foreach (var name in SetSettings(o))
        {
            if (!allowed.Contains(name))
            {
                errors.Add($"setting '{name}' does not apply to a '{type}' step (it uses: {string.Join(", ", allowed)})");
            }
        }

        var step = type switch
        {
            Filter => CreateFilter(o, errors),
            Project => CreateProject(o, errors),
            Rename => CreateRename(o, errors),
            Set => SetStep.TryCreate(o.Set, errors, out var s) ? s : null,
            Mask => CreateMask(o, errors),
            Sample => CreateSample(o, errors),
            Downsample => CreateDownsample(o, errors),
            Dedupe => CreateDedupe(o, errors),
            _ => CreatePlugin(o, route, errors),
        };
        return errors.Count == before ? step : null;
    }

    private static IEnumerable<string> SetSettings(StepOptions o)
    {
        if (o.Expression is not null) yield return nameof(o.Expression);
        if (o.Action is not null) yield return nameof(o.Action);
        if (o.Keep.Count > 0) yield return nameof(o.Keep);
        if (o.Drop.Count > 0) yield return nameof(o.Drop);
        if (o.Rename.Count > 0) yield return nameof(o.Rename);
        if (o.Set.Count > 0) yield return nameof(o.Set);
        if (o.Fields.Count > 0) yield return nameof(o.Fields);
        if (o.Method is not null) yield return nameof(o.Method);
        if (o.HmacKey is not null) yield return nameof(o.HmacKey);
        if (o.HmacKeyFormat is not null) yield return nameof(o.HmacKeyFormat);
        if (o.Encoding is not null) yield return nameof(o.Encoding);
        if (o.Replacement is not null) yield return nameof(o.Replacement);
        if (o.N is not null) yield return nameof(o.N);
        if (o.Mode is not null) yield return nameof(o.Mode);
        if (o.Window is not null) yield return nameof(o.Window);
        if (o.AllowedLateness is not null) yield return nameof(o.AllowedLateness);
        if (o.TimestampField is not null) yield return nameof(o.TimestampField);
        if (o.IdField is not null) yield return nameof(o.IdField);
        if (o.Assembly is not null) yield return nameof(o.Assembly);
        if (o.Class is not null) yield return nameof(o.Class);
        if (o.Settings.Count > 0) yield return nameof(o.Settings);
    }

    private static bool Choice(string? value, string setting, string[] choices, List<string> errors, out string chosen)
    {
        chosen = (value ?? choices[0]).Trim().ToLowerInvariant();
        if (choices.Contains(chosen))
        {
            return true;
        }

        errors.Add($"'{setting}' is '{value}'; expected one of: {string.Join(", ", choices)}");
        return false;
    }

    private static FilterStep? CreateFilter(StepOptions o, List<string> errors)
    {
        var actionOk = Choice(o.Action, nameof(o.Action), ["keep", "drop"], errors, out var action);
        if (string.IsNullOrWhiteSpace(o.Expression))
        {
            errors.Add("'Expression' is required");
            return null;
        }

        try
        {
            var expr = FilterExpression.Parse(o.Expression);
            return actionOk ? new FilterStep(expr, action == "keep") : null;
        }
        catch (ExpressionParseException ex)
        {
            errors.Add("expression syntax error: " + ex.Message);
            return null;
        }
    }

    private static FieldPath[] ValueFields(IEnumerable<string> texts, string setting, List<string> errors)
    {
        var list = new List<FieldPath>();
        foreach (var t in texts)
        {
            if (FieldPath.TryParseValueField(t, out var p, out var error))
            {
                list.Add(p);
            }
            else
            {
                errors.Add($"'{setting}': {error}");
            }
        }

        return [.. list];
    }

    private static ProjectStep? CreateProject(StepOptions o, List<string> errors)
    {
        if (o.Keep.Count == 0 && o.Drop.Count == 0)
        {
            errors.Add("'Keep' or 'Drop' must list at least one field");
            return null;
        }

        return new ProjectStep(ValueFields(o.Keep, nameof(o.Keep), errors), ValueFields(o.Drop, nameof(o.Drop), errors));
    }

    private static RenameStep? CreateRename(StepOptions o, List<string> errors)
    {
        if (o.Rename.Count == 0)
        {
            errors.Add("'Rename' must map at least one field");
            return null;
        }

        var pairs = new List<(FieldPath, FieldPath)>();
        foreach (var (from, to) in o.Rename)
        {
            var f = ValueFields([from], nameof(o.Rename), errors);
            var t = ValueFields([to], nameof(o.Rename), errors);
            if (f.Length == 1 && t.Length == 1)
            {
                pairs.Add((f[0], t[0]));
            }
        }

        return new RenameStep([.. pairs]);
    }

    private static MaskStep? CreateMask(StepOptions o, List<string> errors)
    {
        var fields = new List<FieldPath>();
        if (o.Fields.Count == 0)
        {
            errors.Add("'Fields' must list at least one field to mask");
        }

        foreach (var t in o.Fields)
        {
            if (!FieldPath.TryParse(t, out var p, out var error))
            {
                errors.Add($"'Fields': {error}");
            }
            else if (p.Root is PathRoot.Key or PathRoot.Header || (p.Root == PathRoot.Value && p.Segments.Length > 0))
            {
                fields.Add(p);
            }
            else
            {
                errors.Add($"'Fields': '{t}' cannot be masked (use value.NAME, key or header.NAME)");
            }
        }

        if (!Choice(o.Method, nameof(o.Method), ["hash", "redact"], errors, out var method))
        {
            return null;
        }

        if (method == "redact")
        {
            if (o.HmacKey is not null || o.HmacKeyFormat is not null || o.Encoding is not null)
            {
                errors.Add("'HmacKey', 'HmacKeyFormat' and 'Encoding' apply only to Method 'hash'");
            }

            return new MaskStep([.. fields], null, false, o.Replacement ?? "***");
        }

        if (o.Replacement is not null)
        {
            errors.Add("'Replacement' applies only to Method 'redact'");
        }

        var formatOk = Choice(o.HmacKeyFormat, nameof(o.HmacKeyFormat), ["utf8", "hex", "base64"], errors, out var format);
        var encodingOk = Choice(o.Encoding, nameof(o.Encoding), ["hex", "base64"], errors, out var encoding);
        if (string.IsNullOrEmpty(o.HmacKey))
        {
            errors.Add("'HmacKey' is required for Method 'hash'");
            return null;
        }

        byte[] key;
        try
        {
            key = format switch
            {
                "hex" => Convert.FromHexString(o.HmacKey),
                "base64" => Convert.FromBase64String(o.HmacKey),
                _ => System.Text.Encoding.UTF8.GetBytes(o.HmacKey),
            };
        }
        catch (FormatException)
        {
            // Never echo the key itself: it is a secret.
            errors.Add($"'HmacKey' is not valid {format}");
            return null;
        }

        if (key.Length < 16)
        {
            errors.Add($"'HmacKey' is {key.Length} bytes; at least 16 bytes are required");
            return null;
        }

        return formatOk && encodingOk ? new MaskStep([.. fields], key, encoding == "base64", string.Empty) : null;
    }

    private static SampleStep? CreateSample(StepOptions o, List<string> errors)
    {
        var modeOk = Choice(o.Mode, nameof(o.Mode), ["hash", "count"], errors, out var mode);
        if (o.N is not { } n || n < 1)
        {
            errors.Add($"'N' must be at least 1 (it is {(o.N is null ? "unset" : o.N.Value.ToString(CultureInfo.InvariantCulture))})");
            return null;
        }

        return modeOk ? new SampleStep(n, mode == "count") : null;
    }

    private static bool Windowing(StepOptions o, List<string> errors, out long windowMs, out long latenessMs, out EventTime eventTime)
    {
        windowMs = latenessMs = 0;
        eventTime = null!;
        var ok = true;
        if (o.Window is not { } w || w <= TimeSpan.Zero || w.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            errors.Add($"'Window' must be a positive whole number of milliseconds, e.g. \"00:01:00\" (it is {(o.Window is null ? "unset" : o.Window.Value.ToString("c", CultureInfo.InvariantCulture))})");
            ok = false;
        }
        else
        {
            windowMs = (long)w.TotalMilliseconds;
        }

        var lateness = o.AllowedLateness ?? TimeSpan.Zero;
        if (lateness < TimeSpan.Zero || lateness.Ticks % TimeSpan.TicksPerMillisecond != 0)
        {
            errors.Add("'AllowedLateness' must be zero or a positive whole number of milliseconds");
            ok = false;
        }
        else
        {
            latenessMs = (long)lateness.TotalMilliseconds;
        }

        FieldPath? tsField = null;
        if (o.TimestampField is not null)
        {
            if (FieldPath.TryParseValueField(o.TimestampField, out var p, out var error))
            {
                tsField = p;
            }
            else
            {
                errors.Add($"'TimestampField': {error}");
                ok = false;
            }
        }

        eventTime = new EventTime(tsField);
        return ok;
    }

    private static DownsampleStep? CreateDownsample(StepOptions o, List<string> errors)
    {
        var ok = Windowing(o, errors, out var windowMs, out var latenessMs, out var eventTime);
        var before = errors.Count;
        var fields = ValueFields(o.Fields, nameof(o.Fields), errors);
        return ok && errors.Count == before ? new DownsampleStep(windowMs, latenessMs, eventTime, fields) : null;
    }

    private static DedupeStep? CreateDedupe(StepOptions o, List<string> errors)
    {
        var ok = Windowing(o, errors, out var windowMs, out var latenessMs, out var eventTime);
        FieldPath? id = null;
        if (o.IdField is not null)
        {
            if (FieldPath.TryParseValueField(o.IdField, out var p, out var error))
            {
                id = p;
            }
            else
            {
                errors.Add($"'IdField': {error}");
                ok = false;
            }
        }

        return ok ? new DedupeStep(windowMs, latenessMs, eventTime, id) : null;
    }

    private static IPipelineStep? CreatePlugin(StepOptions o, string route, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(o.Assembly) || string.IsNullOrWhiteSpace(o.Class))
        {
            errors.Add("'Assembly' and 'Class' are required for a plugin step");
            return null;
        }

        var path = Path.GetFullPath(Path.IsPathRooted(o.Assembly) ? o.Assembly : Path.Combine(AppContext.BaseDirectory, o.Assembly));
        if (!File.Exists(path))
        {
            errors.Add($"plugin assembly '{path}' does not exist");
            return null;
        }

        Type? type;
        try
        {
            // The default load context shares Appliance.Core with the plugin, so IPipelineStep is the same type on both sides.
            var assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(path);
            type = assembly.GetType(o.Class, throwOnError: false);
        }
        catch (Exception ex) when (ex is BadImageFormatException or FileLoadException or IOException)
        {
            errors.Add($"plugin assembly '{path}' cannot be loaded: {ex.Message}");
            return null;
        }

        if (type is null)
        {
            errors.Add($"plugin class '{o.Class}' is not in '{path}'");
            return null;
        }

        if (!typeof(IPipelineStep).IsAssignableFrom(type) || type.IsAbstract)
        {
            errors.Add($"plugin class '{o.Class}' is not a concrete class implementing {typeof(IPipelineStep).FullName}");
            return null;
        }

        var settings = new PluginStepSettings(route, new Dictionary<string, string?>(o.Settings, StringComparer.OrdinalIgnoreCase));
        try
        {
            if (type.GetConstructor([typeof(PluginStepSettings)]) is { } withSettings)
            {
                return (IPipelineStep)withSettings.Invoke([settings]);
            }

            if (type.GetConstructor(Type.EmptyTypes) is { } plain)
            {
                return (IPipelineStep)plain.Invoke(null);
            }
        }
        catch (TargetInvocationException ex) when (ex.InnerException is not null)
        {
            errors.Add($"plugin class '{o.Class}' rejected its settings: {ex.InnerException.Message}");
            return null;
        }

        errors.Add($"plugin class '{o.Class}' needs a public constructor taking nothing or one {nameof(PluginStepSettings)}");
        return null;
    }
}
