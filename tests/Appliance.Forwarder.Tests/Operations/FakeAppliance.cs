using Appliance.Core.Status;
using Microsoft.Extensions.Time.Testing;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>A status source and control the test drives: it simulates lanes filling while central is away and draining after.</summary>
public sealed class FakeAppliance : IApplianceStatusSource, IApplianceControl
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeLane> _lanes = new(StringComparer.Ordinal);
    private readonly List<string> _commands = [];

    public FakeAppliance(FakeTimeProvider? time = null)
    {
        Time = time ?? new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
        StartedAt = Time.GetUtcNow();
        AddLane("critical", "block", 64L << 20);
        AddLane("bulk", "drop-oldest", 256L << 20);
    }

    public FakeTimeProvider Time { get; }

    public DateTimeOffset StartedAt { get; }

    public ConnectivityState Connectivity { get; private set; } = ConnectivityState.Online;

    public DateTimeOffset? ConnectivitySince { get; private set; }

    public DateTimeOffset? LastDelivery { get; private set; }

    public bool EdgeReachable { get; set; } = true;

    public bool BufferOpen { get; set; } = true;

    public string? Fault { get; set; }

    public bool ThrowOnRead { get; set; }

    public long Commits { get; private set; }

    public long Aborts { get; private set; }

    public IReadOnlyList<string> Commands
    {
        get
        {
            lock (_gate)
            {
                return [.. _commands];
            }
        }
    }

    public void AddLane(string name, string policy, long quota)
    {
        lock (_gate)
        {
            _lanes[name] = new FakeLane { Name = name, Priority = _lanes.Count, Policy = policy, Quota = quota };
        }
    }

    public void RemoveLane(string name)
    {
        lock (_gate)
        {
            _lanes.Remove(name);
        }
    }

    public void SetConnectivity(ConnectivityState state)
    {
        lock (_gate)
        {
            if (state != Connectivity)
            {
                Connectivity = state;
                ConnectivitySince = Time.GetUtcNow();
            }
        }
    }

    /// <summary>Ingests <paramref name="records"/> of <paramref name="size"/> bytes into a lane at the current time.</summary>
    public void Ingest(string lane, int records, int size)
    {
        lock (_gate)
        {
            var l = _lanes[lane];
            for (var i = 0; i < records; i++)
            {
                l.Waiting.Enqueue((Time.GetUtcNow(), size));
            }

            l.IngestedRecords += records;
            l.IngestedBytes += (long)records * size;
        }
    }

    /// <summary>Delivers up to <paramref name="records"/> of a lane to "central" in one committed transaction.</summary>
    public void Drain(string lane, int records)
    {
        lock (_gate)
        {
            var l = _lanes[lane];
            for (var i = 0; i < records && l.Waiting.Count > 0; i++)
            {
                var (_, size) = l.Waiting.Dequeue();
                l.DrainedRecords++;
                l.DrainedBytes += size;
            }

            Commits++;
            LastDelivery = Time.GetUtcNow();
        }
    }

    public void Abort()
    {
        lock (_gate)
        {
            Aborts++;
        }
    }

    public void Drop(string lane, string reason, long records)
    {
        lock (_gate)
        {
            var l = _lanes[lane];
            l.Drops[reason] = l.Drops.GetValueOrDefault(reason) + records;
            l.Gaps++;
        }
    }

    public ApplianceStatus GetStatus()
    {
        if (ThrowOnRead)
        {
            throw new InvalidOperationException("fake status source told to fail");
        }

        lock (_gate)
        {
            var lanes = _lanes.Values.OrderBy(l => l.Priority).Select(l => new LaneStatus
            {
                Name = l.Name,
                Priority = l.Priority,
                Policy = l.Policy,
                QuotaBytes = l.Quota,
                BufferedBytes = l.Waiting.Sum(w => (long)w.Size),
                BufferedRecords = l.Waiting.Count,
                OldestUnsentAt = l.Waiting.Count > 0 ? l.Waiting.Peek().At : null,
                IngestedRecordsTotal = l.IngestedRecords,
                IngestedBytesTotal = l.IngestedBytes,
                DrainedRecordsTotal = l.DrainedRecords,
                DrainedBytesTotal = l.DrainedBytes,
                DroppedRecordsTotal = new Dictionary<string, long>(l.Drops),
                GapMarkersSentTotal = l.Gaps,
                Paused = l.Paused,
            }).ToList();
            return new ApplianceStatus
            {
                TakenAt = Time.GetUtcNow(),
                SiteId = "store-0042",
                Version = "1.4.2",
                BrokerFlavour = "kafka",
                StartedAt = StartedAt,
                Connectivity = Connectivity,
                ConnectivitySince = ConnectivitySince,
                LastSuccessfulDelivery = LastDelivery,
                CircuitBreaker = Connectivity switch
                {
                    ConnectivityState.Offline => CircuitBreakerState.Open,
                    ConnectivityState.Degraded => CircuitBreakerState.HalfOpen,
                    _ => CircuitBreakerState.Closed,
                },
                EdgeReachable = EdgeReachable,
                TransactionsCommittedTotal = Commits,
                TransactionsAbortedTotal = Aborts,
                Buffer = new BufferHealth
                {
                    Open = BufferOpen,
                    Faulted = Fault is not null,
                    FaultReason = Fault,
                    TotalBudgetBytes = 1L << 30,
                    TotalBufferedBytes = lanes.Sum(l => l.BufferedBytes),
                },
                Lanes = lanes,
                EdgeLag = [new PartitionLag("pos.sales", 0, 12), new PartitionLag("pos.sales", 1, 3)],
            };
        }
    }

    public ValueTask<ControlOutcome> PauseLaneAsync(string lane, CancellationToken cancellationToken = default) => SetPaused(lane, true);

    public ValueTask<ControlOutcome> ResumeLaneAsync(string lane, CancellationToken cancellationToken = default) => SetPaused(lane, false);

    public ValueTask<ControlOutcome> DrainNowAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            _commands.Add("drain");
        }

        return ValueTask.FromResult(ControlOutcome.Done);
    }

    private ValueTask<ControlOutcome> SetPaused(string lane, bool paused)
    {
        lock (_gate)
        {
            _commands.Add($"{(paused ? "pause" : "resume")} {lane}");
            if (!_lanes.TryGetValue(lane, out var l))
            {
                return ValueTask.FromResult(ControlOutcome.UnknownLane);
            }

            var changed = l.Paused != paused;
            l.Paused = paused;
            return ValueTask.FromResult(changed ? ControlOutcome.Done : ControlOutcome.Unchanged);
        }
    }

    private sealed class FakeLane
    {
        public required string Name { get; init; }

        public required int Priority { get; init; }

        public required string Policy { get; init; }

        public required long Quota { get; init; }

        public Queue<(DateTimeOffset At, int Size)> Waiting { get; } = new();

        public long IngestedRecords { get; set; }

        public long IngestedBytes { get; set; }

        public long DrainedRecords { get; set; }

        public long DrainedBytes { get; set; }

        public Dictionary<string, long> Drops { get; } = new(StringComparer.Ordinal);

        public long Gaps { get; set; }

        public bool Paused { get; set; }
    }
}
