using Appliance.Core.Status;
using Appliance.Forwarder.Operations;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>A host with only the operations surface, served from a <see cref="FakeAppliance"/> on free ports and a temp socket.</summary>
public sealed class OperationsTestHost : IAsyncDisposable
{
    private readonly string _dir;

    private OperationsTestHost(IHost host, FakeAppliance fake, string dir)
    {
        Host = host;
        Fake = fake;
        _dir = dir;
        Server = host.Services.GetRequiredService<OperationsServer>();
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
    }

    public IHost Host { get; }

    public FakeAppliance Fake { get; }

    public OperationsServer Server { get; }

    public HttpClient Http { get; }

    public string SocketPath => Server.AdminSocket!;

    public Uri MetricsUri => Server.MetricsUri!;

    public Uri StatusUri => Server.StatusUri!;

    /// <summary>Builds and starts the host. <paramref name="configure"/> may add services before the host is built (e.g. AddSystemd).</summary>
    public static async Task<OperationsTestHost> StartAsync(FakeAppliance? fake = null, Action<IServiceCollection>? configure = null, IDictionary<string, string?>? settings = null)
    {
        fake ??= new FakeAppliance();
        // Short path: Unix socket addresses are limited to 107 bytes.
        var dir = Path.Combine(Path.GetTempPath(), "ops-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dir);
        var values = new Dictionary<string, string?>
        {
            ["Site:Id"] = "store-0042",
            ["Operations:MetricsPort"] = "0",
            ["Operations:MetricsAddress"] = "127.0.0.1",
            ["Operations:StatusPort"] = "0",
            ["Operations:StatusAddress"] = "127.0.0.1",
            ["Operations:StatusRefreshSeconds"] = "1",
            ["Operations:AdminSocket"] = Path.Combine(dir, "admin.sock"),
        };
        foreach (var kv in settings ?? new Dictionary<string, string?>())
        {
            values[kv.Key] = kv.Value;
        }

        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(values);
        builder.Services.AddLogging();
        builder.Services.AddSingleton<TimeProvider>(fake.Time);
        builder.Services.AddSingleton<IApplianceStatusSource>(fake);
        builder.Services.AddSingleton<IApplianceControl>(fake);
        configure?.Invoke(builder.Services);
        builder.Services.AddApplianceOperations(builder.Configuration);
        var host = builder.Build();
        try
        {
            await host.StartAsync();
        }
        catch
        {
            host.Dispose();
            Directory.Delete(dir, recursive: true);
            throw;
        }

        return new OperationsTestHost(host, fake, dir);
    }

    public async Task<string> GetStringAsync(Uri baseUri, string path) => await Http.GetStringAsync(new Uri(baseUri, path));

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        try
        {
            await Host.StopAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            Host.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
