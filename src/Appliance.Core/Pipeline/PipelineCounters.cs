namespace Appliance.Core.Pipeline;

/// <summary>Counters of one route. Written by the pipeline thread, safe to read from any thread.</summary>
public sealed class RouteCounters
{
    private readonly Dictionary<string, long> _deadLetters = new(StringComparer.Ordinal);
    private long _in;
    private long _records;
    private long _aggregates;
    private long _late;
    private long _deadLetterTotal;
    private long _replayed;

    internal RouteCounters(string route) => Route = route;

    /// <summary>The route name.</summary>
    public string Route { get; }

    /// <summary>Input records handled (including replayed ones).</summary>
    public long In => Interlocked.Read(ref _in);

    /// <summary>Output records of kind <see cref="PipelineOutputKind.Record"/>.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>Output records of kind <see cref="PipelineOutputKind.Aggregate"/>.</summary>
    public long Aggregates => Interlocked.Read(ref _aggregates);

    /// <summary>Output records of kind <see cref="PipelineOutputKind.Late"/>.</summary>
    public long Late => Interlocked.Read(ref _late);

    /// <summary>Dead letters, all reasons.</summary>
    public long DeadLetters => Interlocked.Read(ref _deadLetterTotal);

    /// <summary>Input records re-read after a restart (before the checkpoint's NextOffset) whose outputs were discarded as already durable.</summary>
    public long Replayed => Interlocked.Read(ref _replayed);

    /// <summary>Dead letters per error class (a snapshot).</summary>
    public IReadOnlyDictionary<string, long> DeadLettersByReason
    {
        get
        {
            lock (_deadLetters)
            {
                return new Dictionary<string, long>(_deadLetters, StringComparer.Ordinal);
            }
        }
    }

    internal void CountIn() => Interlocked.Increment(ref _in);

    internal void CountReplayed() => Interlocked.Increment(ref _replayed);

    internal void CountOutput(PipelineOutputKind kind)
    {
        switch (kind)
        {
            case PipelineOutputKind.Aggregate:
                Interlocked.Increment(ref _aggregates);
                break;
            case PipelineOutputKind.Late:
                Interlocked.Increment(ref _late);
                break;
            default:
                Interlocked.Increment(ref _records);
                break;
        }
    }

    internal void CountDeadLetter(string errorClass)
    {
        Interlocked.Increment(ref _deadLetterTotal);
        lock (_deadLetters)
        {
            _deadLetters[errorClass] = _deadLetters.GetValueOrDefault(errorClass) + 1;
        }
    }
}

/// <summary>The pipeline's counters: per route, plus records that matched no route.</summary>
public sealed class PipelineCounters
{
    private long _unrouted;

    internal PipelineCounters(IEnumerable<string> routes) =>
        Routes = routes.ToDictionary(r => r, r => new RouteCounters(r), StringComparer.Ordinal);

    /// <summary>Input records whose topic matched no route (not forwarded).</summary>
    public long Unrouted => Interlocked.Read(ref _unrouted);

    /// <summary>The counters of each route, by route name.</summary>
    public IReadOnlyDictionary<string, RouteCounters> Routes { get; }

    internal void CountUnrouted() => Interlocked.Increment(ref _unrouted);
}
