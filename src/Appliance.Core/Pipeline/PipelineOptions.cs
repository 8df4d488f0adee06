namespace Appliance.Core.Pipeline;

/// <summary>
/// The pre-processing configuration (configuration section <see cref="SectionName"/>): the ordered routes that
/// decide which edge records leave the site, how they are transformed, into which buffer lane they go and under
/// which central topic name. Validated at start-up by <see cref="PipelineOptionsValidator"/>.
/// </summary>
public sealed class PipelineOptions
{
    /// <summary>The configuration section name, "Pipeline".</summary>
    public const string SectionName = "Pipeline";

    /// <summary>
    /// The site identifier used by the <c>{site}</c> destination placeholder and the <c>$site</c> value of the
    /// <c>set</c> step. The default value is the empty string (then both produce an empty string).
    /// </summary>
    public string SiteId { get; set; } = string.Empty;

    /// <summary>
    /// The routes, in order: a record is handled by the FIRST route whose <see cref="RouteOptions.Sources"/>
    /// match its topic; records that match no route are not forwarded. The default value is an empty list
    /// (nothing is forwarded).
    /// </summary>
    public List<RouteOptions> Routes { get; set; } = [];
}
