using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// Sends <c>WATCHDOG=1</c> to systemd at half the unit's <c>WatchdogSec=</c> while the service is live (see
/// <see cref="HealthEvaluator.Liveness"/>). <c>AddSystemd()</c> sends READY=1 and STOPPING=1 but never pings the
/// watchdog; withholding the ping when unhealthy is what lets systemd restart a wedged or faulted service.
/// Inert unless systemd asked for it: <c>NOTIFY_SOCKET</c> (an <see cref="ISystemdNotifier"/> that is enabled) and
/// <c>WATCHDOG_USEC</c> set, and <c>WATCHDOG_PID</c> absent or equal to this process.
/// </summary>
public sealed class SystemdWatchdog : BackgroundService
{
    /// <summary>The datagram systemd expects.</summary>
    public static readonly ServiceState Ping = new("WATCHDOG=1");

    private readonly ISystemdNotifier? _notifier;
    private readonly HealthEvaluator _health;
    private readonly TimeProvider _time;
    private readonly OperationsOptions _options;
    private readonly ILogger _logger;
    private long _ticks;
    private long _pings;

    /// <summary>Creates the watchdog; <paramref name="notifier"/> is null when the host is not under systemd.</summary>
    public SystemdWatchdog(HealthEvaluator health, TimeProvider time, IOptions<OperationsOptions> options, ILogger<SystemdWatchdog> logger, ISystemdNotifier? notifier = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _health = health;
        _time = time;
        _options = options.Value;
        _logger = logger;
        _notifier = notifier;
    }

    /// <summary>Ping interval (half of <c>WATCHDOG_USEC</c>), or null when the watchdog is inactive.</summary>
    public TimeSpan? Interval { get; private set; }

    /// <summary>Health evaluations so far (one per interval).</summary>
    public long Ticks => Interlocked.Read(ref _ticks);

    /// <summary>Pings sent so far.</summary>
    public long Pings => Interlocked.Read(ref _pings);

    /// <summary>Reads the watchdog interval systemd asked for; null when none applies to this process.</summary>
    public static TimeSpan? ReadInterval(Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        if (!long.TryParse(environment("WATCHDOG_USEC"), NumberStyles.None, CultureInfo.InvariantCulture, out var usec) || usec <= 0)
        {
            return null;
        }

        var pid = environment("WATCHDOG_PID");
        if (!string.IsNullOrEmpty(pid) && pid != Environment.ProcessId.ToString(CultureInfo.InvariantCulture))
        {
            return null;
        }

        return TimeSpan.FromTicks(Math.Max(1, usec * 10 / 2));
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var interval = ReadInterval(Environment.GetEnvironmentVariable);
        if (!_options.WatchdogEnabled || interval is null || _notifier is not { IsEnabled: true })
        {
            return;
        }

        Interval = interval;
        OperationsLog.WatchdogActive(_logger, (long)interval.Value.TotalMilliseconds);
        var withheld = false;
        using var timer = new PeriodicTimer(interval.Value, _time);
        do
        {
            var verdict = _health.Liveness();
            if (verdict.Healthy)
            {
                _notifier.Notify(Ping);
                Interlocked.Increment(ref _pings);
                if (withheld)
                {
                    OperationsLog.WatchdogResumed(_logger);
                    withheld = false;
                }
            }
            else if (!withheld)
            {
                OperationsLog.WatchdogWithheld(_logger, string.Join("; ", verdict.Reasons));
                withheld = true;
            }

            Interlocked.Increment(ref _ticks);
        }
        while (await WaitAsync(timer, stoppingToken));
    }

    private static async Task<bool> WaitAsync(PeriodicTimer timer, CancellationToken ct)
    {
        try
        {
            return await timer.WaitForNextTickAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return false;
        }
    }
}
