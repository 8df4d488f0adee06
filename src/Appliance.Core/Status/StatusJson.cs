using System.Text.Json;
using System.Text.Json.Serialization;

namespace Appliance.Core.Status;

/// <summary>The wire format of <see cref="ApplianceStatus"/> (admin API, <c>/status.json</c>, <c>appliancectl status --json</c>): camelCase JSON.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ApplianceStatus))]
[JsonSerializable(typeof(CommandReply))]
[JsonSerializable(typeof(IReadOnlyList<LaneStatus>))]
public sealed partial class StatusJsonContext : JsonSerializerContext;

/// <summary>Reply of the admin API to a command.</summary>
/// <param name="Outcome">What happened.</param>
/// <param name="Message">One line for a person.</param>
public sealed record CommandReply(
    [property: JsonConverter(typeof(JsonStringEnumConverter<ControlOutcome>))] ControlOutcome Outcome,
    string Message);
