using System.Net;
using Appliance.Core.Status;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// Runs the operations listeners inside the forwarder's (generic) host: the metrics port, the status page port and the
/// admin Unix socket, each a small Kestrel application of its own so that a route can never be reached on a listener it
/// was not mapped on (the admin commands exist on the socket only). Started after the services registered before it and
/// stopped before them.
/// </summary>
public sealed class OperationsServer : IHostedService, IAsyncDisposable
{
    private readonly IServiceProvider _services;
    private readonly OperationsOptions _options;
    private readonly ILogger _logger;
    private readonly List<WebApplication> _apps = [];

    /// <summary>Creates the server (listens on <see cref="StartAsync"/>).</summary>
    public OperationsServer(IServiceProvider services, IOptions<OperationsOptions> options, ILogger<OperationsServer> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _services = services;
        _options = options.Value;
        _logger = logger;
    }

    /// <summary>Bound metrics address (e.g. <c>http://127.0.0.1:9308</c>) once started; null when disabled.</summary>
    public Uri? MetricsUri { get; private set; }

    /// <summary>Bound status page address once started; null when disabled.</summary>
    public Uri? StatusUri { get; private set; }

    /// <summary>Admin socket path once started; null when disabled.</summary>
    public string? AdminSocket { get; private set; }

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        var shared = o.MetricsEnabled && o.StatusPageEnabled && o.MetricsPort == o.StatusPort && o.MetricsPort != 0;
        if (o.MetricsEnabled)
        {
            var app = Build(k => k.Listen(IPAddress.Parse(o.MetricsAddress), o.MetricsPort), e =>
            {
                e.MapApplianceMetrics();
                if (shared)
                {
                    e.MapApplianceStatusPage();
                }
            });
            await StartAppAsync(app, cancellationToken);
            MetricsUri = BoundUri(app);
            if (shared)
            {
                StatusUri = MetricsUri;
            }
        }

        if (o.StatusPageEnabled && !shared)
        {
            var app = Build(k => k.Listen(IPAddress.Parse(o.StatusAddress), o.StatusPort), e => e.MapApplianceStatusPage());
            await StartAppAsync(app, cancellationToken);
            StatusUri = BoundUri(app);
        }

        if (o.AdminEnabled)
        {
            var path = o.AdminSocket;
            PrepareSocketPath(path);
            var app = Build(k => k.ListenUnixSocket(path), e => e.MapApplianceAdmin());
            await StartAppAsync(app, cancellationToken);
            // Owner and group only: appliancectl runs as root or as a member of the service's group.
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite);
            }

            AdminSocket = path;
        }

        OperationsLog.Listening(_logger, $"metrics={MetricsUri?.ToString() ?? "off"} status={StatusUri?.ToString() ?? "off"} admin={AdminSocket ?? "off"}");
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var app in Enumerable.Reverse(_apps))
        {
            await app.StopAsync(cancellationToken);
        }

        await DisposeAsync();
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        var apps = _apps.ToArray();
        _apps.Clear();
        foreach (var app in apps)
        {
            await app.DisposeAsync();
        }

        if (AdminSocket is { } path && File.Exists(path))
        {
            File.Delete(path);
        }
    }

    private WebApplication Build(Action<KestrelServerOptions> listen, Action<IEndpointRouteBuilder> map)
    {
        // An empty builder: no appsettings/environment sources, no console lifetime of its own (the forwarder's host owns
        // signals and shutdown). Services the routes need come from the forwarder's container.
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { ApplicationName = "appliance-forwarder-operations", ContentRootPath = AppContext.BaseDirectory });
        builder.Services.AddSingleton(_services.GetRequiredService<ILoggerFactory>());
        builder.Services.AddLogging();
        builder.Services.AddSingleton<IHostLifetime, EmbeddedLifetime>();
        builder.Services.AddSingleton(_services.GetRequiredService<IApplianceStatusSource>());
        builder.Services.AddSingleton(_services.GetRequiredService<HealthEvaluator>());
        builder.Services.AddSingleton(_services.GetRequiredService<ApplianceMetrics>());
        builder.Services.AddSingleton(_services.GetRequiredService<IOptions<OperationsOptions>>());
        var control = _services.GetService<IApplianceControl>();
        if (control is not null)
        {
            builder.Services.AddSingleton(control);
        }

        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 16 * 1024;
            listen(k);
        });
        var app = builder.Build();
        app.UseRouting();
        map(app);
        return app;
    }

    private async Task StartAppAsync(WebApplication app, CancellationToken ct)
    {
        _apps.Add(app);
        await app.StartAsync(ct);
    }

    private static Uri BoundUri(WebApplication app)
    {
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Uri(address.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal));
    }

    private void PrepareSocketPath(string path)
    {
        var dir = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        // A socket file left by a killed process blocks bind(); nobody can be listening on it because the unit runs one
        // forwarder, and a second instance would already have failed to bind its TCP ports.
        if (File.Exists(path))
        {
            File.Delete(path);
            OperationsLog.StaleSocketRemoved(_logger, path);
        }
    }

    /// <summary>The embedded applications follow the forwarder's host; they do not listen to signals themselves.</summary>
    private sealed class EmbeddedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
