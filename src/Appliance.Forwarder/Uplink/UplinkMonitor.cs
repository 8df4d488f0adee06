using Appliance.Buffer;
using Appliance.Forwarder.Options;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using Polly.Retry;

namespace Appliance.Forwarder.Uplink;

/// <summary>Connectivity to the central cluster as seen by the drain.</summary>
public enum ConnectivityState
{
    /// <summary>Not yet known (before the first probe).</summary>
    Unknown,

    /// <summary>Central answers and the last transaction or probe succeeded.</summary>
    Online,

    /// <summary>Recent calls failed but the circuit is not open, or a trial call after an outage is running.</summary>
    Degraded,

    /// <summary>The circuit breaker is open: central is considered unreachable; reconnects back off exponentially.</summary>
    Offline,
}

/// <summary>
/// Owns the uplink's resilience pipelines (built once) and derives the connectivity state from them:
/// <list type="bullet">
/// <item><c>central-call</c>: a circuit breaker around every call to central (probe, transaction). Open = offline.</item>
/// <item><c>central-session</c>: retries a failed drain session forever with exponential backoff and jitter.</item>
/// </list>
/// </summary>
public sealed class UplinkMonitor
{
    /// <summary>Name of the circuit-breaker pipeline around calls to central.</summary>
    public const string CallPipelineName = "central-call";

    /// <summary>Name of the reconnect (retry) pipeline around a drain session.</summary>
    public const string SessionPipelineName = "central-session";

    private readonly ILogger _logger;
    private readonly CircuitBreakerStateProvider _breakerState = new();
    private readonly CircuitBreakerManualControl _breakerControl = new();
    private int _state;
    private int _skipNextDelay;

    /// <summary>Creates the monitor and its pipelines.</summary>
    public UplinkMonitor(UplinkOptions options, TimeProvider time, ILogger<UplinkMonitor> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger;
        Call = new ResiliencePipelineBuilder { Name = CallPipelineName, TimeProvider = time }
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = options.FailureRatio,
                MinimumThroughput = options.MinimumThroughput,
                SamplingDuration = TimeSpan.FromMilliseconds(options.SamplingDurationMs),
                BreakDuration = TimeSpan.FromMilliseconds(options.BreakDurationMs),
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsUplinkFailure),
                StateProvider = _breakerState,
                ManualControl = _breakerControl,
                OnOpened = _ => { Transition(ConnectivityState.Offline); return ValueTask.CompletedTask; },
                OnHalfOpened = _ => { Transition(ConnectivityState.Degraded); return ValueTask.CompletedTask; },
                OnClosed = _ => { Transition(ConnectivityState.Online); return ValueTask.CompletedTask; },
            })
            .Build();
        Session = new ResiliencePipelineBuilder { Name = SessionPipelineName, TimeProvider = time }
            .AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = int.MaxValue,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = TimeSpan.FromMilliseconds(options.BackoffBaseMs),
                MaxDelay = TimeSpan.FromMilliseconds(options.BackoffMaxMs),
                // Operator "drain now": the next attempt starts at once (null keeps the computed backoff).
                DelayGenerator = _ => ValueTask.FromResult<TimeSpan?>(Interlocked.Exchange(ref _skipNextDelay, 0) == 1 ? TimeSpan.Zero : null),
                ShouldHandle = new PredicateBuilder().Handle<Exception>(IsUplinkFailure),
            })
            .Build();
    }

    /// <summary>The current state.</summary>
    public ConnectivityState State => (ConnectivityState)Volatile.Read(ref _state);

    /// <summary>Raised on every state change (old, new).</summary>
    public event Action<ConnectivityState, ConnectivityState>? StateChanged;

    /// <summary>Circuit breaker around each call to central.</summary>
    public ResiliencePipeline Call { get; }

    /// <summary>Reconnect pipeline: retries a drain session with exponential backoff and jitter.</summary>
    public ResiliencePipeline Session { get; }

    /// <summary>State of the circuit breaker around calls to central.</summary>
    public CircuitState CircuitState => _breakerState.CircuitState;

    /// <summary>Operator "drain now": closes the circuit breaker and lets the next reconnect attempt start without backoff.</summary>
    public async Task TryNowAsync(CancellationToken cancellationToken = default)
    {
        Interlocked.Exchange(ref _skipNextDelay, 1);
        await _breakerControl.CloseAsync(cancellationToken);
    }

    /// <summary>A call to central succeeded.</summary>
    public void ReportSuccess() => Transition(ConnectivityState.Online);

    /// <summary>The client reports every central broker down: offline until a call succeeds again.</summary>
    public void ReportUnreachable() => Transition(ConnectivityState.Offline);

    /// <summary>A call to central failed (the breaker decides when that means offline).</summary>
    public void ReportFailure(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        if (State is ConnectivityState.Online or ConnectivityState.Unknown)
        {
            Transition(ConnectivityState.Degraded);
        }
    }

    /// <summary>
    /// True for failures that mean "central did not do what we asked" (network, broker, timeout, fencing): they are
    /// retried with backoff. Cancellation and buffer faults are not: the service stops on those.
    /// </summary>
    public static bool IsUplinkFailure(Exception e) => e is not (OperationCanceledException or BufferException or ObjectDisposedException or OutOfMemoryException);

    private void Transition(ConnectivityState to)
    {
        var from = (ConnectivityState)Interlocked.Exchange(ref _state, (int)to);
        if (from != to)
        {
            Log.UplinkChanged(_logger, from.ToString(), to.ToString());
            StateChanged?.Invoke(from, to);
        }
    }
}
