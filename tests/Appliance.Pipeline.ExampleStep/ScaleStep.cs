using System.Globalization;
using System.Text.Json.Nodes;
using Appliance.Core.Pipeline;

namespace Appliance.Pipeline.ExampleStep;

/// <summary>
/// Example plugin step: writes <c>Target = Field * Factor + Offset</c> for a numeric top-level value field (for
/// example a unit conversion). Records without the field pass unchanged; a non-numeric field is a dead letter.
/// </summary>
/// <remarks>
/// Configuration: <c>{ "Type": "plugin", "Assembly": "plugins/Appliance.Pipeline.ExampleStep.dll",
/// "Class": "Appliance.Pipeline.ExampleStep.ScaleStep", "Settings": { "Field": "tempF", "Target": "tempC",
/// "Factor": "0.5555555556", "Offset": "-17.7777777778" } }</c>.
/// </remarks>
public sealed class ScaleStep : IPipelineStep
{
    private readonly string _field;
    private readonly string _target;
    private readonly double _factor;
    private readonly double _offset;

    /// <summary>Reads the settings; throws <see cref="ArgumentException"/> for bad ones, which fails start-up validation.</summary>
    /// <param name="settings">The plugin settings from configuration.</param>
    public ScaleStep(PluginStepSettings settings)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _field = Required(settings, "Field");
        _target = settings.Settings.GetValueOrDefault("Target") ?? _field;
        _factor = Number(settings, "Factor", 1);
        _offset = Number(settings, "Offset", 0);
    }

    /// <inheritdoc />
    public void Invoke(RecordContext context, StepDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);
        if (context.Value.TryGetPropertyValue(_field, out var node) && node is not null)
        {
            if (node is not JsonValue v || !v.TryGetValue<double>(out var x))
            {
                throw new PipelineDataException(PipelineDataException.WrongType, $"the field '{_field}' is not a number");
            }

            context.Value[_target] = (x * _factor) + _offset;
            context.MarkValueChanged();
        }

        next(context);
    }

    private static string Required(PluginStepSettings s, string name) =>
        s.Settings.GetValueOrDefault(name) is { Length: > 0 } v
            ? v
            : throw new ArgumentException($"setting '{name}' is required (route '{s.Route}')");

    private static double Number(PluginStepSettings s, string name, double fallback)
    {
        var text = s.Settings.GetValueOrDefault(name);
        if (text is null)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)
            ? d
            : throw new ArgumentException($"setting '{name}' must be a number, not '{text}'");
    }
}
