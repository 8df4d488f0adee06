using System.Text.Json.Serialization;

namespace Appliance.Core.Status;

/// <summary>Connectivity to the central cluster, as the drain sees it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ConnectivityState>))]
public enum ConnectivityState
{
    /// <summary>Not known yet (before the first call to central).</summary>
    Unknown,

    /// <summary>Central answers and the last call succeeded.</summary>
    Online,

    /// <summary>Recent calls failed but central is not considered unreachable yet (or a trial call after an outage is running).</summary>
    Degraded,

    /// <summary>Central is considered unreachable; reconnects back off.</summary>
    Offline,
}

/// <summary>State of the circuit breaker around calls to central.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<CircuitBreakerState>))]
public enum CircuitBreakerState
{
    /// <summary>Calls flow normally.</summary>
    Closed,

    /// <summary>Calls are refused until the break duration ends.</summary>
    Open,

    /// <summary>A trial call is allowed through.</summary>
    HalfOpen,

    /// <summary>Held open manually.</summary>
    Isolated,
}

/// <summary>
/// One immutable, internally consistent snapshot of the appliance's state, taken at <see cref="TakenAt"/>. Every figure
/// that the operations surface shows (metrics, status page, <c>appliancectl status</c>) comes from one of these.
/// Counters (<c>*Total</c>) are monotonic for the life of the process.
/// </summary>
public sealed record ApplianceStatus
{
    /// <summary>When the snapshot was taken (from the service's <see cref="TimeProvider"/>).</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>Site identity (the <c>site</c> label of every metric in the fleet).</summary>
    public required string SiteId { get; init; }

    /// <summary>Version of the forwarder (informational version of its assembly).</summary>
    public required string Version { get; init; }

    /// <summary>What kind of central broker this box talks to, e.g. <c>kafka</c> or <c>mock</c>; free text.</summary>
    public required string BrokerFlavour { get; init; }

    /// <summary>When the service started.</summary>
    public DateTimeOffset? StartedAt { get; init; }

    /// <summary>Connectivity to central.</summary>
    public required ConnectivityState Connectivity { get; init; }

    /// <summary>When <see cref="Connectivity"/> last changed; null if it never changed since start.</summary>
    public DateTimeOffset? ConnectivitySince { get; init; }

    /// <summary>When central last acknowledged a delivery (a committed transaction or acked batch); null if never since start.</summary>
    public DateTimeOffset? LastSuccessfulDelivery { get; init; }

    /// <summary>Circuit breaker around calls to central.</summary>
    public CircuitBreakerState CircuitBreaker { get; init; }

    /// <summary>True when the edge (local) broker answered the last metadata/consume call.</summary>
    public bool EdgeReachable { get; init; }

    /// <summary>Central transactions committed since start.</summary>
    public long TransactionsCommittedTotal { get; init; }

    /// <summary>Central transactions aborted since start.</summary>
    public long TransactionsAbortedTotal { get; init; }

    /// <summary>State of the durable buffer.</summary>
    public required BufferHealth Buffer { get; init; }

    /// <summary>Priority lanes, highest priority first.</summary>
    public IReadOnlyList<LaneStatus> Lanes { get; init; } = [];

    /// <summary>Consumer lag of the edge consumer group, per source partition.</summary>
    public IReadOnlyList<PartitionLag> EdgeLag { get; init; } = [];

    /// <summary>The lane with this name, or null.</summary>
    public LaneStatus? Lane(string name) => Lanes.FirstOrDefault(l => string.Equals(l.Name, name, StringComparison.Ordinal));
}

/// <summary>State of the durable buffer as a whole.</summary>
public sealed record BufferHealth
{
    /// <summary>True while the buffer is open (false before start-up finished and after shutdown).</summary>
    public required bool Open { get; init; }

    /// <summary>True after a device or commit failure: the buffer refuses every call until the service restarts.</summary>
    public required bool Faulted { get; init; }

    /// <summary>Why the buffer faulted; null when it did not.</summary>
    public string? FaultReason { get; init; }

    /// <summary>Disk budget over all lanes, in bytes.</summary>
    public long TotalBudgetBytes { get; init; }

    /// <summary>Bytes buffered over all lanes.</summary>
    public long TotalBufferedBytes { get; init; }
}

/// <summary>One priority lane of the buffer.</summary>
public sealed record LaneStatus
{
    /// <summary>Lane name, e.g. <c>critical</c>.</summary>
    public required string Name { get; init; }

    /// <summary>Priority rank: 0 is the highest.</summary>
    public required int Priority { get; init; }

    /// <summary>Full policy label: <c>block</c>, <c>drop-oldest</c> or <c>drop-newest</c>.</summary>
    public required string Policy { get; init; }

    /// <summary>Bytes held by the lane (oldest undelivered record to tail).</summary>
    public long BufferedBytes { get; init; }

    /// <summary>Records not yet delivered to central.</summary>
    public long BufferedRecords { get; init; }

    /// <summary>Most bytes the lane may hold.</summary>
    public long QuotaBytes { get; init; }

    /// <summary>When the oldest unsent record was buffered; null when the lane is empty.</summary>
    public DateTimeOffset? OldestUnsentAt { get; init; }

    /// <summary>Records appended to the lane since start.</summary>
    public long IngestedRecordsTotal { get; init; }

    /// <summary>Payload bytes appended to the lane since start.</summary>
    public long IngestedBytesTotal { get; init; }

    /// <summary>Records delivered to central from this lane since start.</summary>
    public long DrainedRecordsTotal { get; init; }

    /// <summary>Payload bytes delivered to central from this lane since start.</summary>
    public long DrainedBytesTotal { get; init; }

    /// <summary>Dropped records by reason label (<c>drop_newest</c>, <c>drop_oldest</c>, <c>ttl</c>, <c>priority_eviction</c>).</summary>
    public IReadOnlyDictionary<string, long> DroppedRecordsTotal { get; init; } = new Dictionary<string, long>();

    /// <summary>Gap markers delivered to central for this lane since start.</summary>
    public long GapMarkersSentTotal { get; init; }

    /// <summary>True while draining of this lane is paused by an operator.</summary>
    public bool Paused { get; init; }

    /// <summary>Age of the oldest unsent record at <paramref name="now"/>; zero when the lane is empty.</summary>
    public TimeSpan OldestUnsentAge(DateTimeOffset now) => OldestUnsentAt is { } t && now > t ? now - t : TimeSpan.Zero;

    /// <summary>Sum of all drop reasons.</summary>
    public long DroppedRecordsSum => DroppedRecordsTotal.Values.Sum();
}

/// <summary>Lag of the edge consumer on one source partition.</summary>
/// <param name="Topic">Edge topic.</param>
/// <param name="Partition">Partition number.</param>
/// <param name="Lag">Records between the consumer's position and the partition's high watermark.</param>
public sealed record PartitionLag(string Topic, int Partition, long Lag);
