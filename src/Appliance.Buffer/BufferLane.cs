using System.Buffers;
using Appliance.Core.Records;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Appliance.Buffer;

/// <summary>
/// One priority lane: its own FasterLog, quota and full policy. Appends are thread-safe. Lock order (to stay
/// deadlock free): a lane's delivery gate before its lock, and a higher-priority lane before a lower one.
/// </summary>
public sealed class BufferLane : IDisposable
{
    // FasterLog entry header with a per-entry checksum: 4 bytes length + 8 bytes checksum; entries are 4-byte aligned.
    internal const int EntryHeaderBytes = 12;

    private readonly DurableBuffer _owner;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _lock = new(1, 1);
    private readonly ArrayBufferWriter<byte> _encoder = new(4096);
    private readonly ArrayBufferWriter<byte> _gapEncoder = new(4096);
    private long _encoderUse;
    private readonly GapAccumulator _pendingGaps = new();
    private readonly LaneState _state;

    // Outputs of a partition's last durable offset still to be recognised as replays after a restart.
    private readonly Dictionary<SourcePartition, int> _replayRemaining;

    // Positions appended, dropped or recognised as already buffered since this process opened the lane. Only these feed
    // the buffer-wide resume points: the recovered per-lane positions are not a consistent cut across lanes (after a
    // crash one lane may hold a later offset of a partition than another lane kept), while within one process ingest
    // runs in offset order from the recovered resume point.
    private readonly Dictionary<SourcePartition, long> _sessionNext = new(new SourcePartitionComparer());
    private LaneState _durableState;
    private long _version;
    private long _durableVersion;
    private long _uncommittedBytes;

    // Highest tail covered by a completed commit of ours (FasterLog's own field may be published a moment later).
    private long _committedTail;
    private long _commits;

    // FasterLog applies TruncateUntil lazily (at the next commit), so its BeginAddress lags; this is the truth.
    private long _begin;
    private TaskCompletionSource _durableSignal = NewSignal();
    private TaskCompletionSource _spaceSignal = NewSignal();

    internal BufferLane(DurableBuffer owner, LaneOptions options, int priority, FasterLog log, IDevice device, LaneState recovered, ILogger logger, LaneCommitManager commitManager)
    {
        CommitManager = commitManager;
        _device = device;
        _owner = owner;
        Options = options;
        Priority = priority;
        Log = log;
        _logger = logger;
        _state = recovered;
        _durableState = recovered.Clone();
        _begin = log.BeginAddress;
        _replayRemaining = new Dictionary<SourcePartition, int>(recovered.LastOffsetCounts, new SourcePartitionComparer());
        Reader = new LaneReader(this);
    }

    /// <summary>Lane name.</summary>
    public string Name => Options.Name;

    /// <summary>0 for the highest-priority lane, then 1, 2, ...</summary>
    public int Priority { get; }

    /// <summary>The lane's settings.</summary>
    public LaneOptions Options { get; }

    /// <summary>The single reader that hands out batches for delivery.</summary>
    public LaneReader Reader { get; }

    internal FasterLog Log { get; }

    // The log's device: FasterLog does not dispose it, so the lane does, after the log.
    private readonly IDevice _device;

    internal LaneCommitManager CommitManager { get; }

    /// <summary>Serializes delivery (a lease) against eviction, so a batch is never both delivered and counted as dropped.</summary>
    internal SemaphoreSlim DeliveryGate { get; } = new(1, 1);

    /// <summary>Log bytes held by the lane: from the oldest undelivered entry to the tail (including entry headers).</summary>
    public long BufferedBytes => Log.TailAddress - BeginAddress;

    /// <summary>Address of the oldest undelivered entry.</summary>
    public long BeginAddress => Interlocked.Read(ref _begin);

    /// <summary>Address after the last appended entry.</summary>
    public long TailAddress => Log.TailAddress;

    /// <summary>Group commits completed by this lane since it was opened.</summary>
    public long CommitsCompleted => Interlocked.Read(ref _commits);

    /// <summary>Address up to which entries are durable.</summary>
    public long CommittedUntilAddress => Math.Max(Log.CommittedUntilAddress, Interlocked.Read(ref _committedTail));

    /// <summary>A consistent snapshot of the lane's counters.</summary>
    public LaneStats GetStats()
    {
        _lock.Wait();
        try
        {
            var dropped = new Dictionary<DropReason, long>();
            foreach (var r in Enum.GetValues<DropReason>())
            {
                dropped[r] = _state.DroppedRecords[(int)r];
            }

            return new LaneStats(Name, Priority, BufferedBytes, _state.AppendedRecords - _state.RemovedRecords, _state.AppendedRecords, dropped, Options.QuotaBytes);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Appends a record, applying the lane's full policy. The record is durable only after a later group commit;
    /// wait with <see cref="DurableBuffer.WhenDurableAsync"/> before acknowledging it upstream.
    /// </summary>
    public async ValueTask<AppendResult> AppendAsync(EdgeRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        _owner.ThrowIfFaulted();
        var nowMs = _owner.Time.GetUtcNow().ToUnixTimeMilliseconds();
        await _lock.WaitAsync(cancellationToken);
        try
        {
            return await AppendLockedAsync(record, nowMs, cancellationToken);
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>
    /// Appends several records in order under one lock acquisition (cheaper per record than <see cref="AppendAsync"/>).
    /// Stops at the first record that is <see cref="AppendStatus.Blocked"/>: <paramref name="results"/> then holds one
    /// entry per record tried, the last one blocked; the caller retries the rest later. Returns the number of results.
    /// </summary>
    public async ValueTask<int> AppendBatchAsync(IReadOnlyList<EdgeRecord> records, IList<AppendResult> results, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(results);
        _owner.ThrowIfFaulted();
        var nowMs = _owner.Time.GetUtcNow().ToUnixTimeMilliseconds();
        await _lock.WaitAsync(cancellationToken);
        try
        {
            for (var i = 0; i < records.Count; i++)
            {
                var r = await AppendLockedAsync(records[i], nowMs, cancellationToken);
                results.Add(r);
                if (r.Status == AppendStatus.Blocked)
                {
                    return i + 1;
                }
            }

            return records.Count;
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Appends one record; the caller holds the lane lock (it may be released and retaken while making room).</summary>
    private async ValueTask<AppendResult> AppendLockedAsync(EdgeRecord record, long nowMs, CancellationToken cancellationToken)
    {
        if (IsReplay(record.Source))
        {
            NoteSession(record.Source);
            return new AppendResult(AppendStatus.AlreadyBuffered, -1);
        }

        var haveGate = false;
        try
        {
            var encoded = Encode(record, nowMs);
            var size = EntrySize(_encoder.WrittenCount);
            if (!FitsPage(size))
            {
                throw new ArgumentException($"record of {_encoder.WrittenCount} bytes does not fit a log page (2^{_owner.Options.PageSizeBits} bytes); raise Buffer:PageSizeBits", nameof(record));
            }

            while (!Fits(size))
            {
                switch (Options.FullPolicy)
                {
                    case FullPolicy.DropNewest:
                        if (OwnQuotaExceeded(size) || !await _owner.EvictLowerLanesAsync(this, size, nowMs, cancellationToken))
                        {
                            DropLocked(record.Source, nowMs);
                            return new AppendResult(AppendStatus.Dropped, -1);
                        }

                        break;

                    case FullPolicy.Block:
                        if (OwnQuotaExceeded(size) || !await _owner.EvictLowerLanesAsync(this, size, nowMs, cancellationToken))
                        {
                            return new AppendResult(AppendStatus.Blocked, -1);
                        }

                        break;

                    case FullPolicy.DropOldest:
                        if (!haveGate)
                        {
                            // Eviction must not race a delivery in progress: take the gate first (lock order: gate, then lock).
                            _lock.Release();
                            try
                            {
                                await DeliveryGate.WaitAsync(cancellationToken);
                                haveGate = true;
                            }
                            finally
                            {
                                await _lock.WaitAsync(CancellationToken.None);
                            }

                            continue;
                        }

                        if (!OwnQuotaExceeded(size) && await _owner.EvictLowerLanesAsync(this, size, nowMs, cancellationToken))
                        {
                            continue;
                        }

                        var need = Math.Max(BufferedBytes + size - Options.QuotaBytes, _owner.TotalBufferedBytes + size - _owner.Options.TotalBudgetBytes);
                        if (!await EvictOldestLockedAsync(need, DropReason.DropOldest, nowMs, long.MaxValue, cancellationToken))
                        {
                            // Nothing evictable in this lane (all budget held by higher lanes): the new record cannot be kept.
                            DropLocked(record.Source, nowMs);
                            return new AppendResult(AppendStatus.Dropped, -1);
                        }

                        break;
                }
            }

            if (Interlocked.Read(ref _encoderUse) != encoded)
            {
                // The lock was released while making room and another append reused the encoder.
                Encode(record, nowMs);
            }

            var address = await EnqueueLockedAsync(_encoder.WrittenMemory, cancellationToken);
            return AppendedLocked(record.Source, address);
        }
        catch (Exception e) when (e is not (OperationCanceledException or ArgumentException or BufferException))
        {
            throw _owner.Fault("append failed", e);
        }
        finally
        {
            if (haveGate)
            {
                DeliveryGate.Release();
            }
        }
    }

    /// <summary>
    /// Appends a record given by its parts when that needs no waiting: the lane lock is free, the record fits the
    /// lane's quota and the buffer's budget without applying the full policy, and the log's memory has room. Returns
    /// false, having appended nothing, when any of that does not hold; <see cref="AppendAsync"/> then does the rest
    /// (waits, makes room or applies the policy). True with <see cref="AppendStatus.Accepted"/> or
    /// <see cref="AppendStatus.AlreadyBuffered"/> in <paramref name="result"/> otherwise. Key and value are copied
    /// straight into the log (no arrays of their own); null is kept apart from empty by the flags.
    /// </summary>
    public bool TryAppend(SourcePosition source, long timestampMs, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, IReadOnlyList<RecordHeader> headers, string? destinationTopic, out AppendResult result)
    {
        ArgumentNullException.ThrowIfNull(headers);
        _owner.ThrowIfFaulted();
        result = default;
        if (!_lock.Wait(0))
        {
            return false;
        }

        try
        {
            if (IsReplay(source))
            {
                NoteSession(source);
                result = new AppendResult(AppendStatus.AlreadyBuffered, -1);
                return true;
            }

            Encode(source, timestampMs, destinationTopic, key, keyIsNull, value, valueIsNull, headers, _owner.Time.GetUtcNow().ToUnixTimeMilliseconds());
            var size = EntrySize(_encoder.WrittenCount);
            if (!FitsPage(size) || !Fits(size) || !Log.TryEnqueue(_encoder.WrittenSpan, out var address))
            {
                return false;
            }

            NoteEnqueuedLocked(_encoder.WrittenCount);
            result = AppendedLocked(source, address);
            return true;
        }
        catch (Exception e) when (e is not (OperationCanceledException or ArgumentException or BufferException))
        {
            throw _owner.Fault("append failed", e);
        }
        finally
        {
            _lock.Release();
        }
    }

    private AppendResult AppendedLocked(SourcePosition source, long address)
    {
        _state.AppendedRecords++;
        _state.Advance(source);
        NoteSession(source);
        _version++;
        return new AppendResult(AppendStatus.Accepted, address);
    }

    /// <summary>Completes when space may have been freed in this lane or the buffer (a delivery, eviction or expiry).</summary>
    public Task WaitForSpaceAsync(CancellationToken cancellationToken = default) => Volatile.Read(ref _spaceSignal).Task.WaitAsync(cancellationToken);

    /// <summary>Releases the lane's log, its segment files and its commit files.</summary>
    public void Dispose()
    {
        Reader.Dispose();
        Log.Dispose();
        _device.Dispose();
        CommitManager.Dispose();
        _lock.Dispose();
        DeliveryGate.Dispose();
    }

    private void TruncateLocked(long until)
    {
        Log.TruncateUntil(until);
        Interlocked.Exchange(ref _begin, until);
    }

    internal void OwnerThrowIfFaulted() => _owner.ThrowIfFaulted();

    internal Exception OwnerFault(string reason, Exception e) => _owner.Fault(reason, e);

    internal static int EntrySize(int payload) => EntryHeaderBytes + ((payload + 3) & ~3);

    internal long Version => Interlocked.Read(ref _version);

    internal LaneState DurableState => Volatile.Read(ref _durableState);

    internal bool OwnQuotaExceeded(long size) => BufferedBytes + size > Options.QuotaBytes;

    /// <summary>
    /// True for a record this lane already holds: a lower offset of the partition than its last one, or one of the
    /// outputs of the last offset that were durable before a restart. Within a lane a partition's records arrive in
    /// offset order, and re-processing after a restart yields the same outputs in the same order.
    /// </summary>
    private bool IsReplay(SourcePosition pos)
    {
        if (!_state.NextOffsets.TryGetValue(pos.SourcePartition, out var next) || pos.Offset + 1 > next)
        {
            if (_replayRemaining.Count > 0)
            {
                _replayRemaining.Remove(pos.SourcePartition);
            }

            return false;
        }

        if (pos.Offset + 1 < next)
        {
            return true;
        }

        // Same offset as the last one: a replay while recovered outputs of it remain, else a further output.
        if (_replayRemaining.TryGetValue(pos.SourcePartition, out var remaining) && remaining > 0)
        {
            _replayRemaining[pos.SourcePartition] = remaining - 1;
            return true;
        }

        return false;
    }

    /// <summary>Merges buffer-wide resume points into the top lane's state (persisted with its next commit).</summary>
    internal async ValueTask ProposeResumePointsAsync(IReadOnlyDictionary<SourcePartition, long> points, IReadOnlyDictionary<SourcePartition, string>? checkpoints, CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            var changed = false;
            foreach (var (p, next) in points)
            {
                if (!_state.ResumePoints.TryGetValue(p, out var cur) || next > cur)
                {
                    _state.ResumePoints[p] = next;
                    changed = true;
                }
            }

            if (checkpoints is not null)
            {
                foreach (var (p, c) in checkpoints)
                {
                    if (!_state.SourceCheckpoints.TryGetValue(p, out var cur) || cur != c)
                    {
                        _state.SourceCheckpoints[p] = c;
                        changed = true;
                    }
                }
            }

            if (changed)
            {
                _version++;
                _owner.NoteProgressUncommitted();
            }
        }
        finally
        {
            _lock.Release();
        }
    }

    /// <summary>Takes the lane lock for a buffer-wide consistent snapshot; release with <see cref="ReleaseSnapshotLock"/>.</summary>
    internal Task AcquireSnapshotLockAsync(CancellationToken ct) => _lock.WaitAsync(ct);

    internal void ReleaseSnapshotLock() => _lock.Release();

    /// <summary>Merges the positions this process appended to the lane into <paramref name="into"/>; caller holds the lane lock.</summary>
    internal void MergeAppendedPositionsLocked(Dictionary<SourcePartition, long> into)
    {
        foreach (var (p, next) in _sessionNext)
        {
            if (!into.TryGetValue(p, out var cur) || next > cur)
            {
                into[p] = next;
            }
        }
    }

    private void NoteSession(SourcePosition pos)
    {
        ref var next = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_sessionNext, pos.SourcePartition, out _);
        if (pos.Offset + 1 > next)
        {
            next = pos.Offset + 1;
        }
    }

    private long Encode(EdgeRecord r, long nowMs) =>
        Encode(r.Source, r.TimestampMs, r.DestinationTopic, r.Key, r.Key is null, r.Value, r.Value is null, r.Headers, nowMs);

    // Encodes into the lane's reused encoder; the returned use count tells a later caller whether it still holds this record.
    private long Encode(SourcePosition source, long timestampMs, string? destinationTopic, ReadOnlySpan<byte> key, bool keyIsNull, ReadOnlySpan<byte> value, bool valueIsNull, IReadOnlyList<RecordHeader> headers, long nowMs)
    {
        _encoder.ResetWrittenCount();
        EntryCodec.WriteRecord(_encoder, source, timestampMs, destinationTopic, key, keyIsNull, value, valueIsNull, headers, nowMs);
        return Interlocked.Increment(ref _encoderUse);
    }

    // A log entry must fit one page (FASTER's limit, less its own header).
    private bool FitsPage(long size) => size <= (1L << _owner.Options.PageSizeBits) - 64;

    private bool Fits(long size) => !OwnQuotaExceeded(size) && _owner.TotalBufferedBytes + size <= _owner.Options.TotalBudgetBytes;

    /// <summary>
    /// Appends an entry to the log; the caller holds the lane lock. When the log's memory holds only pages not yet
    /// written, waits for FASTER's next page flush instead of spinning: <c>FasterLog.Enqueue</c> retries with
    /// <c>Thread.Yield</c>, which cost the ingest a fifth of its CPU while the disk caught up (perf,
    /// docs/benchmarks.md "Forwarder").
    /// </summary>
    private async ValueTask<long> EnqueueLockedAsync(ReadOnlyMemory<byte> entry, CancellationToken cancellationToken)
    {
        var address = Log.TryEnqueue(entry.Span, out var enqueued) ? enqueued : await Log.EnqueueAsync(entry, cancellationToken);
        NoteEnqueuedLocked(entry.Length);
        return address;
    }

    // Group commit: a commit is due after CommitBytes of entries, else at the next interval.
    private void NoteEnqueuedLocked(int entryLength)
    {
        _uncommittedBytes += EntrySize(entryLength);
        if (_uncommittedBytes >= _owner.Options.CommitBytes)
        {
            _owner.RequestCommit();
        }
        else
        {
            _owner.NoteUncommitted();
        }
    }

    private void DropLocked(SourcePosition pos, long nowMs)
    {
        _pendingGaps.Add(DropReason.DropNewest, pos, nowMs);
        _state.DroppedRecords[(int)DropReason.DropNewest]++;
        _state.Advance(pos);
        NoteSession(pos);
        _version++;
        _owner.NoteDropped(this, DropReason.DropNewest, 1);
        _owner.NoteUncommitted();
    }

    /// <summary>Evicts from a lower lane on behalf of a higher one. Takes this lane's gate and lock.</summary>
    internal async ValueTask<long> EvictForHigherLaneAsync(long need, long nowMs, CancellationToken ct)
    {
        await DeliveryGate.WaitAsync(ct);
        try
        {
            await _lock.WaitAsync(ct);
            try
            {
                var before = BufferedBytes;
                await EvictOldestLockedAsync(need, DropReason.PriorityEviction, nowMs, long.MaxValue, ct);
                return before - BufferedBytes;
            }
            finally
            {
                _lock.Release();
            }
        }
        finally
        {
            DeliveryGate.Release();
        }
    }

    /// <summary>Drops records older than the lane's TTL. Takes the gate and the lock.</summary>
    internal async ValueTask ExpireAsync(long nowMs, CancellationToken ct)
    {
        if (Options.Ttl is not { } ttl || BeginAddress >= CommittedUntilAddress)
        {
            return;
        }

        await DeliveryGate.WaitAsync(ct);
        try
        {
            await _lock.WaitAsync(ct);
            try
            {
                await EvictOldestLockedAsync(long.MaxValue, DropReason.Ttl, nowMs, nowMs - (long)ttl.TotalMilliseconds, ct);
            }
            finally
            {
                _lock.Release();
            }
        }
        finally
        {
            DeliveryGate.Release();
        }
    }

    /// <summary>
    /// Evicts committed entries from the head until at least <paramref name="need"/> bytes are freed, stopping at the
    /// first entry buffered at or after <paramref name="appendedBeforeMs"/>. Caller holds the gate and the lock.
    /// Returns false when nothing could be evicted.
    /// </summary>
    private async ValueTask<bool> EvictOldestLockedAsync(long need, DropReason reason, long nowMs, long appendedBeforeMs, CancellationToken ct)
    {
        var begin = BeginAddress;
        var end = CommittedUntilAddress;
        if (begin >= end)
        {
            if (Log.TailAddress > begin && need != long.MaxValue)
            {
                // Only uncommitted entries: commit them first so they can be evicted consistently.
                _lock.Release();
                try
                {
                    await _owner.CommitLaneAsync(this, ct);
                }
                finally
                {
                    await _lock.WaitAsync(CancellationToken.None);
                }

                end = CommittedUntilAddress;
            }

            if (begin >= end)
            {
                return false;
            }
        }

        var freedTo = begin;
        long records = 0;
        using (var it = Log.Scan(begin, end, recover: false))
        {
            while (freedTo - begin < need && freedTo < end)
            {
                byte[] bytes;
                int len;
                long cur, next;
                try
                {
                    if (!it.GetNext(out bytes, out len, out cur, out next))
                    {
                        if (it.NextAddress >= end || !await it.WaitAsync(ct))
                        {
                            break;
                        }

                        continue;
                    }
                }
                catch (FasterException e)
                {
                    throw new BufferCorruptionException($"lane '{Name}': committed entry at or after address {it.NextAddress} failed its checksum while evicting", e);
                }

                var entry = Decode(bytes, len, cur, next);
                if (entry.AppendedAtMs >= appendedBeforeMs)
                {
                    break;
                }

                if (entry.Record is { } r)
                {
                    _pendingGaps.Add(reason, r.Source, nowMs);
                    records++;
                }
                else if (entry.Gap is { } g)
                {
                    // Never lose an accounting record: carry evicted gap markers forward.
                    _pendingGaps.AddMarker(g);
                }

                freedTo = next;
            }
        }

        if (freedTo == begin)
        {
            return false;
        }

        TruncateLocked(freedTo);
        _state.RemovedRecords += records;
        _state.DroppedRecords[(int)reason] += records;
        _version++;
        Reader.OnEvicted(freedTo);
        _owner.NoteDropped(this, reason, records);
        _owner.NoteUncommitted();
        SignalSpace();
        return true;
    }

    internal BufferEntry Decode(byte[] bytes, int len, long address, long next) => Decode(bytes.AsSpan(0, len), address, next, null);

    /// <summary>Decodes an entry, checking its CRC first unless <see cref="Verify"/> already did.</summary>
    internal BufferEntry Decode(ReadOnlySpan<byte> bytes, long address, long next, StringCache? strings, bool verified = false)
    {
        try
        {
            return verified ? EntryCodec.Decode(bytes, address, next, Name, strings) : EntryCodec.Read(bytes, address, next, Name, strings);
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw Undecodable(address, bytes.Length, e);
        }
    }

    /// <summary>Reads a record entry in place whose CRC <see cref="Verify"/> already checked.</summary>
    internal RecordView ReadRecord(ReadOnlySpan<byte> bytes, long address, StringCache strings)
    {
        try
        {
            return EntryCodec.ReadRecord(bytes, strings);
        }
        catch (Exception e) when (e is FormatException or ArgumentOutOfRangeException or IndexOutOfRangeException)
        {
            throw Undecodable(address, bytes.Length, e);
        }
    }

    /// <summary>Checks an entry's CRC and kind without decoding it.</summary>
    internal EntryKind Verify(ReadOnlySpan<byte> bytes, long address)
    {
        try
        {
            return EntryCodec.Verify(bytes);
        }
        catch (FormatException e)
        {
            throw Undecodable(address, bytes.Length, e);
        }
    }

    private BufferCorruptionException Undecodable(long address, int length, Exception e) =>
        new($"lane '{Name}': entry at address {address} ({length} bytes) cannot be decoded: {e.Message}", e);

    /// <summary>Marks a delivered prefix as removed. Caller holds the delivery gate.</summary>
    internal async ValueTask AckAsync(long untilAddress, int records)
    {
        await _lock.WaitAsync();
        try
        {
            if (untilAddress > BeginAddress)
            {
                TruncateLocked(untilAddress);
                _state.RemovedRecords += records;
                _version++;
                _owner.NoteUncommitted();
            }
        }
        catch (Exception e) when (e is not BufferException)
        {
            throw _owner.Fault("truncate after delivery failed", e);
        }
        finally
        {
            _lock.Release();
        }

        SignalSpace();
    }

    /// <summary>
    /// Starts a commit if anything changed: writes pending gap markers, then commits with the lane state as cookie.
    /// Returns the version and state covered, and the task that completes when the commit is durable; null if nothing to do.
    /// </summary>
    internal async ValueTask<(long Version, LaneState State, long Tail, long CommitNum)?> BeginCommitAsync(CancellationToken ct)
    {
        await _lock.WaitAsync(ct);
        try
        {
            if (_version == Interlocked.Read(ref _durableVersion) && _pendingGaps.IsEmpty)
            {
                return null;
            }

            if (!_pendingGaps.IsEmpty)
            {
                var nowMs = _owner.Time.GetUtcNow().ToUnixTimeMilliseconds();
                foreach (var marker in _pendingGaps.Drain(Name))
                {
                    _gapEncoder.ResetWrittenCount();
                    EntryCodec.WriteGap(_gapEncoder, marker, nowMs);
                    // Not cancellable: the markers were taken from the pending list and must reach the log.
                    await EnqueueLockedAsync(_gapEncoder.WrittenMemory, CancellationToken.None);
                    BufferLog.Dropped(_logger, Name, marker.Count, marker.Reason.ToLabel());
                }

                _version++;
            }

            var snapshot = _state.Clone();
            var version = _version;
            if (!Log.CommitStrongly(out var tail, out var commitNum, spinWait: false, cookie: snapshot.Serialize()))
            {
                throw new InvalidOperationException("FasterLog refused to schedule a commit");
            }

            _uncommittedBytes = 0;
            return (version, snapshot, tail, commitNum);
        }
        finally
        {
            _lock.Release();
        }
    }

    internal void CompleteCommit(long version, LaneState state, long tail)
    {
        Interlocked.Increment(ref _commits);
        lock (_encoder)
        {
            if (tail > Interlocked.Read(ref _committedTail))
            {
                Interlocked.Exchange(ref _committedTail, tail);
            }

            // Commits complete in order, but the commit loop and an eviction may both wait on one: never go back.
            if (version <= Interlocked.Read(ref _durableVersion))
            {
                return;
            }

            Volatile.Write(ref _durableState, state);
            Interlocked.Exchange(ref _durableVersion, version);
        }

        var old = Interlocked.Exchange(ref _durableSignal, NewSignal());
        old.TrySetResult();
    }

    internal void FailWaiters(Exception e)
    {
        Volatile.Read(ref _durableSignal).TrySetException(e);
        Volatile.Read(ref _spaceSignal).TrySetException(e);
    }

    /// <summary>Waits until every change up to <paramref name="version"/> is durable.</summary>
    internal async ValueTask WaitDurableAsync(long version, CancellationToken ct)
    {
        while (Interlocked.Read(ref _durableVersion) < version)
        {
            _owner.ThrowIfFaulted();
            var signal = Volatile.Read(ref _durableSignal).Task;
            if (Interlocked.Read(ref _durableVersion) >= version)
            {
                break;
            }

            await signal.WaitAsync(ct);
        }
    }

    internal bool HasUncommittedChanges => _version != Interlocked.Read(ref _durableVersion) || !_pendingGaps.IsEmpty;

    internal void SignalSpace()
    {
        var old = Interlocked.Exchange(ref _spaceSignal, NewSignal());
        old.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>A snapshot of one lane's counters.</summary>
/// <param name="Lane">Lane name.</param>
/// <param name="Priority">0 = highest.</param>
/// <param name="BufferedBytes">Log bytes held (oldest undelivered entry to tail).</param>
/// <param name="BufferedRecords">Records held (appended minus delivered and dropped).</param>
/// <param name="AppendedRecords">Records appended since the lane was created.</param>
/// <param name="DroppedRecords">Records dropped since the lane was created, by reason.</param>
/// <param name="QuotaBytes">The lane's quota.</param>
public sealed record LaneStats(string Lane, int Priority, long BufferedBytes, long BufferedRecords, long AppendedRecords, IReadOnlyDictionary<DropReason, long> DroppedRecords, long QuotaBytes);
