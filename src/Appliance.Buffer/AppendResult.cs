namespace Appliance.Buffer;

/// <summary>What happened to an appended record.</summary>
public enum AppendStatus
{
    /// <summary>Stored; durable once the next group commit covering it completes (see <see cref="DurableBuffer.WhenDurableAsync"/>).</summary>
    Accepted,

    /// <summary>Not stored: the lane is full and its policy is block. Pause ingest of the lane and retry after <see cref="BufferLane.WaitForSpaceAsync"/>.</summary>
    Blocked,

    /// <summary>
    /// Not stored again: the lane already holds this output of this source position (a record re-read after a restart,
    /// because resume points are persisted one group commit behind the data). Treat it like <see cref="Accepted"/>.
    /// </summary>
    AlreadyBuffered,

    /// <summary>Not stored: dropped by the drop-newest policy. Counted and recorded for a gap marker; the source position counts as taken.</summary>
    Dropped,
}

/// <summary>The outcome of <see cref="BufferLane.AppendAsync"/>.</summary>
/// <param name="Status">What happened.</param>
/// <param name="Address">The entry's address when accepted; otherwise -1.</param>
public readonly record struct AppendResult(AppendStatus Status, long Address);
