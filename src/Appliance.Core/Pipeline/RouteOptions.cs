namespace Appliance.Core.Pipeline;

/// <summary>One route: source topics, an ordered chain of steps, a buffer lane and a destination topic template.</summary>
public sealed class RouteOptions
{
    /// <summary>The prefix that marks an entry of <see cref="Sources"/> as a regular expression.</summary>
    public const string RegexPrefix = "regex:";

    /// <summary>The route name, used in metrics, dead-letter headers and validation messages. Required, unique.</summary>
    public string Name { get; set; } = string.Empty;

    /// <summary>
    /// The edge topics this route takes: an exact topic name, or <c>regex:PATTERN</c> where PATTERN must match
    /// the WHOLE topic name (it is anchored). At least one entry is required.
    /// </summary>
    public List<string> Sources { get; set; } = [];

    /// <summary>The steps, applied in this order. The default value is an empty list (records pass unchanged).</summary>
    public List<StepOptions> Steps { get; set; } = [];

    /// <summary>The buffer lane the route's output goes to (for example <c>critical</c>). Required; must be a configured lane.</summary>
    public string Lane { get; set; } = string.Empty;

    /// <summary>
    /// The central topic name template, with the placeholders <c>{site}</c>, <c>{topic}</c> (the edge source
    /// topic) and <c>{lane}</c>, for example <c>{site}.{topic}</c>. The default value is null: the source topic
    /// name is kept as-is.
    /// </summary>
    public string? DestinationTemplate { get; set; }

    /// <summary>
    /// The lane for records a <c>downsample</c> step marks as late (their window was already emitted).
    /// The default value is null: late records go to <see cref="Lane"/>.
    /// </summary>
    public string? LateLane { get; set; }

    /// <summary>
    /// The central topic template for late records (same placeholders as <see cref="DestinationTemplate"/>).
    /// The default value is null: late records use the route's destination.
    /// </summary>
    public string? LateDestinationTemplate { get; set; }

    /// <summary>A loggable one-line description (secrets redacted), e.g. for the start-up log of the effective settings.</summary>
    public override string ToString() =>
        $"{Name}: [{string.Join(", ", Sources)}] -> [{string.Join(" | ", Steps.Select(s => s?.ToString()))}] -> lane {Lane}"
        + $" -> {(string.IsNullOrEmpty(DestinationTemplate) ? "{topic}" : DestinationTemplate)}"
        + (string.IsNullOrEmpty(LateLane) && string.IsNullOrEmpty(LateDestinationTemplate) ? string.Empty : $" (late: lane {(string.IsNullOrEmpty(LateLane) ? Lane : LateLane)} -> {LateDestinationTemplate ?? "same topic"})");
}
