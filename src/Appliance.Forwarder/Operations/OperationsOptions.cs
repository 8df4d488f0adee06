using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Operations;

/// <summary>The operations surface: metrics, health, status page, admin socket, watchdog. Configuration section <c>Operations</c>.</summary>
public sealed class OperationsOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Operations";

    /// <summary>Serve Prometheus metrics (<c>/metrics</c>, plus <c>/healthz</c> and <c>/readyz</c>). The default value is true.</summary>
    public bool MetricsEnabled { get; set; } = true;

    /// <summary>TCP port of the metrics endpoint; 0 picks a free port (tests). The default value is 9308.</summary>
    [Range(0, 65535)]
    public int MetricsPort { get; set; } = 9308;

    /// <summary>Address the metrics endpoint binds to. The default value is <c>0.0.0.0</c> (the central Prometheus scrapes it; nftables decides who may).</summary>
    [Required]
    public string MetricsAddress { get; set; } = "0.0.0.0";

    /// <summary>Serve the read-only status page (<c>/</c>, <c>/status.json</c>, <c>/healthz</c>, <c>/readyz</c>). The default value is true.</summary>
    public bool StatusPageEnabled { get; set; } = true;

    /// <summary>TCP port of the status page; 0 picks a free port (tests). May equal <see cref="MetricsPort"/> (one listener then serves both). The default value is 8080.</summary>
    [Range(0, 65535)]
    public int StatusPort { get; set; } = 8080;

    /// <summary>Address the status page binds to. The default value is <c>0.0.0.0</c>: the technician reaches it from the shop LAN.</summary>
    [Required]
    public string StatusAddress { get; set; } = "0.0.0.0";

    /// <summary>How often the status page refreshes, seconds. The default value is 5.</summary>
    [Range(1, 3600)]
    public int StatusRefreshSeconds { get; set; } = 5;

    /// <summary>Serve the admin API (used by <c>appliancectl</c>) on a Unix domain socket. The default value is true.</summary>
    public bool AdminEnabled { get; set; } = true;

    /// <summary>Path of the admin Unix domain socket (mode 0660, never reachable from the network). The default value is <c>/run/appliance/admin.sock</c>.</summary>
    [Required]
    public string AdminSocket { get; set; } = "/run/appliance/admin.sock";

    /// <summary>Send <c>WATCHDOG=1</c> to systemd (when the unit sets <c>WatchdogSec=</c>) while the service is healthy. The default value is true.</summary>
    public bool WatchdogEnabled { get; set; } = true;

    /// <summary>What kind of central cluster this box talks to, shown on the status page and in <c>appliance_info</c>. The default value is <c>kafka</c>.</summary>
    [Required]
    public string BrokerFlavour { get; set; } = "kafka";

    /// <summary>Value of the <c>site</c> label on every metric. The default value is empty: the <c>Site:Id</c> configuration key is used.</summary>
    public string SiteLabel { get; set; } = "";
}

/// <summary>Cross-field rules of <see cref="OperationsOptions"/>.</summary>
public sealed class OperationsOptionsValidator : IValidateOptions<OperationsOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, OperationsOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>();
        if (options.MetricsEnabled && !System.Net.IPAddress.TryParse(options.MetricsAddress, out _))
        {
            problems.Add($"Operations:MetricsAddress: '{options.MetricsAddress}' is not an IP address");
        }

        if (options.StatusPageEnabled && !System.Net.IPAddress.TryParse(options.StatusAddress, out _))
        {
            problems.Add($"Operations:StatusAddress: '{options.StatusAddress}' is not an IP address");
        }

        if (options.MetricsEnabled && options.StatusPageEnabled && options.MetricsPort == options.StatusPort && options.MetricsPort != 0
            && options.MetricsAddress != options.StatusAddress)
        {
            problems.Add("Operations:StatusPort: equals Operations:MetricsPort, so Operations:StatusAddress must equal Operations:MetricsAddress");
        }

        if (options.AdminEnabled && !Path.IsPathRooted(options.AdminSocket))
        {
            problems.Add($"Operations:AdminSocket: '{options.AdminSocket}' must be an absolute path");
        }

        // sockaddr_un.sun_path is 108 bytes including the terminating NUL.
        if (options.AdminEnabled && System.Text.Encoding.UTF8.GetByteCount(options.AdminSocket) > 107)
        {
            problems.Add("Operations:AdminSocket: path is longer than 107 bytes (the Unix socket address limit)");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}
