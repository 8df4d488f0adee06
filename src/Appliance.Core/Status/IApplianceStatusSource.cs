namespace Appliance.Core.Status;

/// <summary>
/// Where the operations surface reads the appliance's state. The forwarder implements it; metrics, health checks, the
/// status page and the admin API call <see cref="GetStatus"/> on every request or scrape, so it must be cheap
/// (read counters, no I/O) and thread-safe.
/// </summary>
public interface IApplianceStatusSource
{
    /// <summary>Takes a consistent snapshot of the current state.</summary>
    ApplianceStatus GetStatus();
}

/// <summary>What happened to an operator command.</summary>
public enum ControlOutcome
{
    /// <summary>The command took effect.</summary>
    Done,

    /// <summary>Nothing to do: the lane was already in the requested state.</summary>
    Unchanged,

    /// <summary>No lane has that name.</summary>
    UnknownLane,

    /// <summary>The service cannot act now (e.g. still starting or stopping).</summary>
    Unavailable,
}

/// <summary>Operator commands. Implemented by the forwarder; reached through the local admin socket only.</summary>
public interface IApplianceControl
{
    /// <summary>Stops draining <paramref name="lane"/> to central (ingest continues into the buffer).</summary>
    ValueTask<ControlOutcome> PauseLaneAsync(string lane, CancellationToken cancellationToken = default);

    /// <summary>Resumes draining <paramref name="lane"/>.</summary>
    ValueTask<ControlOutcome> ResumeLaneAsync(string lane, CancellationToken cancellationToken = default);

    /// <summary>Wakes the drain now: skips any reconnect backoff and tries central immediately.</summary>
    ValueTask<ControlOutcome> DrainNowAsync(CancellationToken cancellationToken = default);
}
