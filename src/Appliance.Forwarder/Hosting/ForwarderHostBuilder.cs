using System.Text.Json;
using Appliance.Forwarder.Drain;
using Appliance.Forwarder.Ingest;
using Appliance.Forwarder.Operations;
using Appliance.Forwarder.Options;
using Appliance.Forwarder.Uplink;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Hosting;

/// <summary>Exit codes of the forwarder (sysexits.h where one fits).</summary>
public static class ExitCodes
{
    /// <summary>Stopped normally.</summary>
    public const int Ok = 0;

    /// <summary>Bad command line.</summary>
    public const int Usage = 64;

    /// <summary>A background service failed (e.g. the buffer faulted).</summary>
    public const int Software = 70;

    /// <summary>Invalid configuration (EX_CONFIG).</summary>
    public const int Config = 78;
}

/// <summary>Command-line options of the service.</summary>
/// <param name="ConfigFile">Extra JSON configuration (<c>--config</c>), required to exist when given.</param>
/// <param name="SiteConfigFile">Site identity JSON (<c>--site-config</c>), optional file.</param>
/// <param name="Remaining">Other arguments (configuration overrides <c>--Key=value</c>).</param>
/// <param name="CheckConfig"><c>--check-config</c>: validate the configuration as at start-up, report, and exit (0 valid, 78 invalid) without starting anything.</param>
public sealed record ForwarderArguments(string? ConfigFile, string? SiteConfigFile, string[] Remaining, bool CheckConfig = false)
{
    /// <summary>Parses the arguments; returns null and an error for a bad command line.</summary>
    public static ForwarderArguments? Parse(string[] args, out string? error)
    {
        ArgumentNullException.ThrowIfNull(args);
        error = null;
        string? config = null, site = null;
        var check = false;
        var rest = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            var a = args[i];
            if (a is "--config" or "--site-config")
            {
                if (i + 1 >= args.Length)
                {
                    error = $"{a} needs a file path";
                    return null;
                }

                if (a == "--config")
                {
                    config = args[++i];
                }
                else
                {
                    site = args[++i];
                }
            }
            else if (a == "--check-config")
            {
                check = true;
            }
            else if (a.StartsWith("--config=", StringComparison.Ordinal))
            {
                config = a["--config=".Length..];
            }
            else if (a.StartsWith("--site-config=", StringComparison.Ordinal))
            {
                site = a["--site-config=".Length..];
            }
            else
            {
                rest.Add(a);
            }
        }

        return new ForwarderArguments(config, site, [.. rest], check);
    }
}

/// <summary>Builds the forwarder host: configuration sources, options with validation, services.</summary>
public static class ForwarderHostBuilder
{
    /// <summary>Environment variable prefix: <c>APPLIANCE_Central__BootstrapServers</c> sets <c>Central:BootstrapServers</c>.</summary>
    public const string EnvironmentPrefix = "APPLIANCE_";

    /// <summary>Adds the configuration sources in order: appsettings.json, --config, --site-config, environment, command line.</summary>
    public static void AddSources(IConfigurationBuilder builder, ForwarderArguments args)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(args);
        builder.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        if (args.ConfigFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(args.ConfigFile), optional: false, reloadOnChange: false);
        }

        if (args.SiteConfigFile is not null)
        {
            builder.AddJsonFile(Path.GetFullPath(args.SiteConfigFile), optional: true, reloadOnChange: false);
        }

        builder.AddEnvironmentVariables(EnvironmentPrefix);
        builder.AddCommandLine(args.Remaining);
    }

    /// <summary>Binds and validates the configuration; returns the problems (empty when valid).</summary>
    public static IReadOnlyList<string> BindAndValidate(IConfiguration configuration, out ForwarderConfiguration bound)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        bound = new ForwarderConfiguration();
        try
        {
            configuration.Bind(bound);
        }
        catch (InvalidOperationException e)
        {
            // e.g. Buffer:Lanes:0:FullPolicy = "sometimes": the binder names the key in the message chain.
            return [BinderMessage(e)];
        }

        // The binder skips a list element whose enum value does not parse (the lane would silently vanish), so
        // enum-valued keys are checked on the raw configuration first.
        var enumProblems = new List<string>();
        foreach (var lane in configuration.GetSection("Buffer:Lanes").GetChildren())
        {
            CheckEnum<Appliance.Buffer.FullPolicy>(configuration, $"Buffer:Lanes:{lane.Key}:FullPolicy", enumProblems);
        }

        CheckEnum<DeliveryMode>(configuration, "Central:Delivery", enumProblems);
        CheckEnum<UplinkCompression>(configuration, "Central:Compression", enumProblems);
        return [.. enumProblems, .. ForwarderConfigurationValidator.Problems(bound)];
    }

    private static void CheckEnum<T>(IConfiguration configuration, string key, List<string> problems)
        where T : struct, Enum
    {
        var raw = configuration[key];
        if (!string.IsNullOrEmpty(raw) && (!Enum.TryParse<T>(raw, ignoreCase: true, out var value) || !Enum.IsDefined(value)))
        {
            problems.Add($"{key}: '{raw}' is not one of {string.Join(", ", Enum.GetNames<T>())}");
        }
    }

    /// <summary>Pool threads kept beyond one per core (<see cref="ReserveBlockingThreads"/>).</summary>
    public const int ReservedPoolThreads = 6;

    /// <summary>
    /// Raises the thread pool's minimum of worker threads to one per core plus <see cref="ReservedPoolThreads"/> (never
    /// lowers it). The ingest and the drain each keep a pool thread blocked for long stretches: librdkafka's poll,
    /// FASTER's page loads when the drain reads behind the log's memory, transaction commits. With the default minimum
    /// (one per core) the I/O completions those waits depend on queued behind them until the pool grew, which it does
    /// about twice a second. On 2 cores the drain's reads from disk took 0.6-2.0 s instead of 0.2-0.4 s per 600k
    /// records in about a quarter of the steady-state benchmark runs, and critical records waited behind them while a
    /// backlog drained: p99 591-803 ms after a reconnection, 101-124 ms with the reserve (docs/benchmarks.md,
    /// "Forwarder", 2026-12-02 17:07).
    /// </summary>
    public static void ReserveBlockingThreads()
    {
        ThreadPool.GetMinThreads(out var worker, out var io);
        var wanted = Environment.ProcessorCount + ReservedPoolThreads;
        if (worker < wanted)
        {
            ThreadPool.SetMinThreads(wanted, io);
        }
    }

    /// <summary>Builds the host (not started). Also reserves pool threads for the blocking loops (<see cref="ReserveBlockingThreads"/>).</summary>
    public static IHost Build(ForwarderArguments args, Action<IServiceCollection>? configureServices = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        ReserveBlockingThreads();
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
            ApplicationName = "appliance-forwarder",
        });
        AddSources(builder.Configuration, args);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
            o.ColorBehavior = LoggerColorBehavior.Disabled;
        });
        builder.Services.AddSystemd();
        builder.Services.Configure<HostOptions>(o =>
        {
            // Below systemd's TimeoutStopSec (90 s by default in the unit).
            o.ShutdownTimeout = TimeSpan.FromSeconds(30);
            o.BackgroundServiceExceptionBehavior = BackgroundServiceExceptionBehavior.StopHost;
        });
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddOptions<ForwarderConfiguration>().Bind(builder.Configuration).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<ForwarderConfiguration>, ForwarderConfigurationValidator>();
        builder.Services.AddSingleton(sp => new RouteTable(sp.GetRequiredService<IOptions<ForwarderConfiguration>>().Value));
        builder.Services.AddSingleton<IRecordProcessor>(sp => PipelineProcessor.IsNeeded(sp.GetRequiredService<IOptions<ForwarderConfiguration>>().Value)
            ? ActivatorUtilities.CreateInstance<PipelineProcessor>(sp)
            : new PassThroughProcessor());
        builder.Services.AddSingleton(sp => new UplinkMonitor(
            sp.GetRequiredService<IOptions<ForwarderConfiguration>>().Value.Uplink, sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<UplinkMonitor>>()));
        builder.Services.AddSingleton<ForwarderHealth>();
        // The operations listeners start before the data path (health answers "not ready" during buffer recovery) and stop after it.
        builder.Services.AddForwarderOperations(builder.Configuration);
        // Order matters: the buffer opens first and closes last (hosted services stop in reverse order).
        builder.Services.AddSingleton<BufferHost>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BufferHost>());
        builder.Services.AddSingleton<IngestService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<IngestService>());
        builder.Services.AddSingleton<DrainService>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DrainService>());
        builder.Services.AddHostedService<StartupReporter>();
        configureServices?.Invoke(builder.Services);
        return builder.Build();
    }

    /// <summary>The effective settings as one JSON line, secrets redacted.</summary>
    public static string Describe(ForwarderConfiguration c)
    {
        ArgumentNullException.ThrowIfNull(c);
        var shown = new
        {
            c.Site,
            Buffer = c.Buffer.ToString(),
            Edge = new { c.Edge.BootstrapServers, c.Edge.GroupId, c.Edge.MaxPollRecords, c.Edge.OffsetCommitIntervalMs, c.Edge.TopicRefreshIntervalMs, c.Edge.DeadLetterTopic, Kafka = KafkaSettings.Redact(c.Edge.Kafka) },
            Central = new
            {
                c.Central.BootstrapServers,
                Delivery = c.Central.Delivery.ToString(),
                TransactionalId = KafkaSettings.TransactionalId(c.Central, c.Site.Id),
                c.Central.CheckpointTopic,
                c.Central.GapTopic,
                c.Central.DestinationTemplate,
                Compression = c.Central.Compression.ToString(),
                c.Central.QuantumBytes,
                c.Central.MaxTransactionBytes,
                c.Central.MaxBatchRecords,
                c.Central.RateLimitBytesPerSecond,
                c.Central.TransactionTimeoutMs,
                Kafka = KafkaSettings.Redact(c.Central.Kafka),
            },
            Routes = c.Routes.Select(r => new { r.Name, r.Topics, r.Lane, r.Destination, Steps = r.Steps.Select(s => s.ToString()), r.LateLane, r.LateDestination }),
            c.Uplink,
        };
        return JsonSerializer.Serialize(shown);
    }

    private static string BinderMessage(Exception e)
    {
        var parts = new List<string>();
        for (var x = e; x is not null; x = x.InnerException)
        {
            parts.Add(x.Message);
        }

        return string.Join(" -> ", parts);
    }
}

/// <summary>Logs the effective settings and the "started" line once every other service has started.</summary>
internal sealed class StartupReporter : IHostedService
{
    private readonly IOptions<ForwarderConfiguration> _config;
    private readonly BufferHost _buffer;
    private readonly ILogger _logger;

    public StartupReporter(IOptions<ForwarderConfiguration> config, BufferHost buffer, ILogger<StartupReporter> logger)
    {
        _config = config;
        _buffer = buffer;
        _logger = logger;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var c = _config.Value;
        Log.EffectiveSettings(_logger, ForwarderHostBuilder.Describe(c));
        Log.Started(_logger, c.Site.Id, _buffer.Buffer.Incarnation, _buffer.Buffer.Lanes.Count, c.Central.Delivery.ToString());
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
