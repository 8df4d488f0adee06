using System.Reflection;
using Appliance.Buffer;
using Appliance.Core.Status;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Options;
using Appliance.Forwarder.Uplink;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using UplinkState = Appliance.Forwarder.Uplink.ConnectivityState;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// The forwarder's <see cref="IApplianceStatusSource"/>: lane figures from the buffer, connectivity from the
/// <see cref="UplinkMonitor"/>, delivery counters from <see cref="ForwarderActivity"/>. Also samples the lanes every
/// second so oldest-unsent ages stay accurate between scrapes.
/// </summary>
public sealed class ForwarderStatusSource : BackgroundService, IApplianceStatusSource
{
    private static readonly string VersionText = typeof(ForwarderStatusSource).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown";
    private readonly BufferHost _buffer;
    private readonly UplinkMonitor _uplink;
    private readonly ForwarderActivity _activity;
    private readonly ForwarderConfiguration _config;
    private readonly OperationsOptions _options;
    private readonly TimeProvider _time;
    private readonly LaneAgeTracker _ages = new();
    private readonly DateTimeOffset _started;
    private long _connectivitySinceMs = -1;

    /// <summary>Creates the source.</summary>
    public ForwarderStatusSource(BufferHost buffer, UplinkMonitor uplink, ForwarderActivity activity, IOptions<ForwarderConfiguration> config, IOptions<OperationsOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(uplink);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        _buffer = buffer;
        _uplink = uplink;
        _activity = activity;
        _config = config.Value;
        _options = options.Value;
        _time = time;
        _started = time.GetUtcNow();
        uplink.StateChanged += (_, _) => Interlocked.Exchange(ref _connectivitySinceMs, _time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <inheritdoc />
    public ApplianceStatus GetStatus()
    {
        var now = _time.GetUtcNow();
        DurableBuffer? buffer = null;
        try
        {
            buffer = _buffer.Buffer;
        }
        catch (InvalidOperationException)
        {
            // Not open yet (starting) or closed (stopping): reported as such.
        }

        var lanes = new List<LaneStatus>();
        if (buffer is not null)
        {
            foreach (var lane in buffer.Lanes)
            {
                var stats = lane.GetStats();
                var (ingestedBytes, drainedRecords, drainedBytes, gaps) = _activity.Counters(lane.Name);
                lanes.Add(new LaneStatus
                {
                    Name = lane.Name,
                    Priority = lane.Priority,
                    Policy = PolicyLabel(lane.Options.FullPolicy),
                    BufferedBytes = stats.BufferedBytes,
                    BufferedRecords = stats.BufferedRecords,
                    QuotaBytes = stats.QuotaBytes,
                    OldestUnsentAt = _ages.Sample(stats, now),
                    IngestedRecordsTotal = stats.AppendedRecords,
                    IngestedBytesTotal = ingestedBytes,
                    DrainedRecordsTotal = drainedRecords,
                    DrainedBytesTotal = drainedBytes,
                    DroppedRecordsTotal = stats.DroppedRecords.ToDictionary(kv => kv.Key.ToLabel(), kv => kv.Value, StringComparer.Ordinal),
                    GapMarkersSentTotal = gaps,
                    Paused = _activity.IsPaused(lane.Name),
                });
            }
        }

        var since = Interlocked.Read(ref _connectivitySinceMs);
        return new ApplianceStatus
        {
            TakenAt = now,
            SiteId = _config.Site.Id,
            Version = VersionText,
            BrokerFlavour = _options.BrokerFlavour,
            StartedAt = _started,
            Connectivity = _uplink.State switch
            {
                UplinkState.Online => Core.Status.ConnectivityState.Online,
                UplinkState.Degraded => Core.Status.ConnectivityState.Degraded,
                UplinkState.Offline => Core.Status.ConnectivityState.Offline,
                _ => Core.Status.ConnectivityState.Unknown,
            },
            ConnectivitySince = since >= 0 ? DateTimeOffset.FromUnixTimeMilliseconds(since) : null,
            LastSuccessfulDelivery = _activity.LastDelivery,
            CircuitBreaker = _uplink.CircuitState switch
            {
                Polly.CircuitBreaker.CircuitState.Open => CircuitBreakerState.Open,
                Polly.CircuitBreaker.CircuitState.HalfOpen => CircuitBreakerState.HalfOpen,
                Polly.CircuitBreaker.CircuitState.Isolated => CircuitBreakerState.Isolated,
                _ => CircuitBreakerState.Closed,
            },
            EdgeReachable = _activity.EdgeReachable,
            EdgeLag = _activity.EdgeLag,
            TransactionsCommittedTotal = _activity.Commits,
            TransactionsAbortedTotal = _activity.Aborts,
            Buffer = new BufferHealth
            {
                Open = buffer is not null,
                Faulted = buffer?.IsFaulted ?? false,
                FaultReason = buffer?.FaultException?.Message,
                TotalBudgetBytes = _config.Buffer.TotalBudgetBytes,
                TotalBufferedBytes = lanes.Sum(l => l.BufferedBytes),
            },
            Lanes = lanes,
        };
    }

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                GetStatus();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private static string PolicyLabel(FullPolicy p) => p switch
    {
        FullPolicy.Block => "block",
        FullPolicy.DropOldest => "drop-oldest",
        _ => "drop-newest",
    };
}

/// <summary>
/// The forwarder's <see cref="IApplianceControl"/>: pauses lanes in the drain; "drain now" closes the circuit breaker and
/// makes the next reconnect attempt start without backoff (a backoff delay already running still ends first).
/// </summary>
public sealed class ForwarderControl : IApplianceControl
{
    private readonly BufferHost _buffer;
    private readonly ForwarderActivity _activity;
    private readonly UplinkMonitor _uplink;

    /// <summary>Creates the control.</summary>
    public ForwarderControl(BufferHost buffer, ForwarderActivity activity, UplinkMonitor uplink)
    {
        _buffer = buffer;
        _activity = activity;
        _uplink = uplink;
    }

    /// <inheritdoc />
    public ValueTask<ControlOutcome> PauseLaneAsync(string lane, CancellationToken cancellationToken = default) => SetPaused(lane, true);

    /// <inheritdoc />
    public ValueTask<ControlOutcome> ResumeLaneAsync(string lane, CancellationToken cancellationToken = default) => SetPaused(lane, false);

    /// <inheritdoc />
    public async ValueTask<ControlOutcome> DrainNowAsync(CancellationToken cancellationToken = default)
    {
        await _uplink.TryNowAsync(cancellationToken);
        return ControlOutcome.Done;
    }

    private ValueTask<ControlOutcome> SetPaused(string lane, bool paused)
    {
        DurableBuffer buffer;
        try
        {
            buffer = _buffer.Buffer;
        }
        catch (InvalidOperationException)
        {
            return ValueTask.FromResult(ControlOutcome.Unavailable);
        }

        if (!buffer.Lanes.Any(l => l.Name == lane))
        {
            return ValueTask.FromResult(ControlOutcome.UnknownLane);
        }

        return ValueTask.FromResult(_activity.SetPaused(lane, paused) ? ControlOutcome.Done : ControlOutcome.Unchanged);
    }
}
