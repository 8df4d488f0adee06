using System.Collections.Concurrent;
using Appliance.Buffer;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// What the drain and the ingest report for the operations surface (counters the buffer does not keep), and the
/// operator's switch they obey (paused lanes). Thread-safe; every call is a few interlocked operations.
/// </summary>
public sealed class ForwarderActivity
{
    private readonly ConcurrentDictionary<string, LaneCounters> _lanes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, bool> _paused = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private long _commits;
    private long _aborts;
    private long _lastDeliveryMs = -1;
    private int _edgeUnreachable;
    private IReadOnlyList<Core.Status.PartitionLag> _edgeLag = [];

    /// <summary>Creates the recorder.</summary>
    public ForwarderActivity(TimeProvider time) => _time = time;

    /// <summary>Transactions (or acknowledged batches in at-least-once mode) committed on central since start.</summary>
    public long Commits => Interlocked.Read(ref _commits);

    /// <summary>Transactions aborted since start.</summary>
    public long Aborts => Interlocked.Read(ref _aborts);

    /// <summary>When central last acknowledged a delivery; null if never since start.</summary>
    public DateTimeOffset? LastDelivery => Interlocked.Read(ref _lastDeliveryMs) is var ms and >= 0 ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null;

    /// <summary>False after the edge client reported all brokers down, until a record is consumed again.</summary>
    public bool EdgeReachable => Volatile.Read(ref _edgeUnreachable) == 0;

    /// <summary>A record was appended to <paramref name="lane"/> (payload bytes).</summary>
    public void Ingested(string lane, long bytes)
    {
        var c = Lane(lane);
        Interlocked.Add(ref c.IngestedBytes, bytes);
        Volatile.Write(ref _edgeUnreachable, 0);
    }

    /// <summary>The edge client reported an error; "all brokers down" marks the edge unreachable.</summary>
    public void EdgeError(bool allBrokersDown)
    {
        if (allBrokersDown)
        {
            Volatile.Write(ref _edgeUnreachable, 1);
        }
    }

    /// <summary>Central committed these batches.</summary>
    public void Committed(IEnumerable<LaneBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        foreach (var b in batches)
        {
            var c = Lane(b.Lane.Name);
            Interlocked.Add(ref c.DrainedRecords, b.RecordCount);
            Interlocked.Add(ref c.DrainedBytes, b.PayloadBytes);
            Interlocked.Add(ref c.Gaps, b.GapCount);
        }

        Interlocked.Increment(ref _commits);
        Interlocked.Exchange(ref _lastDeliveryMs, _time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>
    /// The edge consumer's lag per assigned partition (records between the next offset to take and the partition's
    /// end as the edge broker last reported it, read_committed), replacing the previous report.
    /// </summary>
    public void EdgeLagMeasured(IReadOnlyList<Core.Status.PartitionLag> lag) => Volatile.Write(ref _edgeLag, lag);

    /// <summary>The last edge lag report (empty before the first one).</summary>
    public IReadOnlyList<Core.Status.PartitionLag> EdgeLag => Volatile.Read(ref _edgeLag);

    /// <summary>A transaction was aborted.</summary>
    public void Aborted() => Interlocked.Increment(ref _aborts);

    /// <summary>True while an operator paused draining of <paramref name="lane"/>.</summary>
    public bool IsPaused(string lane) => _paused.ContainsKey(lane);

    /// <summary>Pauses or resumes a lane; false when it already was in that state.</summary>
    public bool SetPaused(string lane, bool paused) => paused ? _paused.TryAdd(lane, true) : _paused.TryRemove(lane, out _);

    /// <summary>Counters of one lane.</summary>
    public (long IngestedBytes, long DrainedRecords, long DrainedBytes, long Gaps) Counters(string lane)
    {
        var c = Lane(lane);
        return (Interlocked.Read(ref c.IngestedBytes), Interlocked.Read(ref c.DrainedRecords), Interlocked.Read(ref c.DrainedBytes), Interlocked.Read(ref c.Gaps));
    }

    private LaneCounters Lane(string lane) => _lanes.GetOrAdd(lane, _ => new LaneCounters());

    private sealed class LaneCounters
    {
        public long IngestedBytes;
        public long DrainedRecords;
        public long DrainedBytes;
        public long Gaps;
    }
}
