using System.ComponentModel.DataAnnotations;

namespace Appliance.Core.Identity;

/// <summary>
/// Identity of the site the appliance runs at. Configuration section <c>Site</c>; on the box it comes from
/// <c>/data/site/site.json</c>, which survives updates.
/// </summary>
public sealed class SiteOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Site";

    /// <summary>The rule a site id must follow (it becomes part of topic names and the transactional id).</summary>
    public const string IdPattern = "^[a-z0-9][a-z0-9-]{0,62}$";

    /// <summary>The site id: 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit. Required; there is no default.</summary>
    [Required(ErrorMessage = "is required (the site id, e.g. \"store-042\")")]
    [RegularExpression(IdPattern, ErrorMessage = "must match " + IdPattern + " (1-63 characters of a-z, 0-9 and '-', starting with a letter or digit)")]
    public string Id { get; set; } = "";
}
