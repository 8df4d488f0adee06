using Appliance.Core.Status;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Operations;

/// <summary>Wires the operations surface into the forwarder's host.</summary>
public static class OperationsServiceCollectionExtensions
{
    /// <summary>
    /// Adds metrics, health, the status page, the admin socket and the systemd watchdog, configured from the
    /// <c>Operations</c> section (validated at start-up). The host must also register an <see cref="IApplianceStatusSource"/>
    /// and an <see cref="IApplianceControl"/>, and a <see cref="TimeProvider"/>. Hosted services start in registration
    /// order and stop in reverse: registered before the data path, the listeners answer (health "not ready") while the
    /// buffer recovers and keep answering until the data path has stopped.
    /// </summary>
    public static IServiceCollection AddApplianceOperations(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(OperationsOptions.SectionName);
        services.AddOptions<OperationsOptions>().Bind(section).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<OperationsOptions>, OperationsOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<HealthEvaluator>();
        services.TryAddSingleton(sp =>
        {
            var o = sp.GetRequiredService<IOptions<OperationsOptions>>().Value;
            var site = string.IsNullOrEmpty(o.SiteLabel) ? configuration["Site:Id"] ?? "" : o.SiteLabel;
            return new ApplianceMetrics(sp.GetRequiredService<IApplianceStatusSource>(), sp.GetRequiredService<TimeProvider>(), site, sp.GetRequiredService<ILogger<ApplianceMetrics>>());
        });
        services.TryAddSingleton<OperationsServer>();
        services.AddHostedService(sp => sp.GetRequiredService<OperationsServer>());
        services.TryAddSingleton(sp => new SystemdWatchdog(
            sp.GetRequiredService<HealthEvaluator>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<IOptions<OperationsOptions>>(),
            sp.GetRequiredService<ILogger<SystemdWatchdog>>(), sp.GetService<ISystemdNotifier>()));
        services.AddHostedService(sp => sp.GetRequiredService<SystemdWatchdog>());
        return services;
    }

    /// <summary>
    /// The forwarder's wiring: its status source and control (<see cref="ForwarderStatusSource"/>,
    /// <see cref="ForwarderControl"/>, <see cref="ForwarderActivity"/>) plus <see cref="AddApplianceOperations"/>.
    /// Call it before the buffer, ingest and drain hosted services are registered (see <see cref="AddApplianceOperations"/>).
    /// </summary>
    public static IServiceCollection AddForwarderOperations(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<ForwarderActivity>();
        services.TryAddSingleton<ForwarderStatusSource>();
        services.TryAddSingleton<IApplianceStatusSource>(sp => sp.GetRequiredService<ForwarderStatusSource>());
        services.AddHostedService(sp => sp.GetRequiredService<ForwarderStatusSource>());
        services.TryAddSingleton<IApplianceControl, ForwarderControl>();
        return services.AddApplianceOperations(configuration);
    }
}
