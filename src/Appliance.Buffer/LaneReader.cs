using FASTER.core;

namespace Appliance.Buffer;

/// <summary>
/// Hands out committed entries of one lane in order, in batches. Reading does not remove anything: a batch leaves
/// the buffer only when its delivery lease is completed (<see cref="DeliveryLease.CompleteAsync"/>), which
/// truncates the lane up to the batch end. Batches must be completed in the order they were read. Not thread-safe:
/// one drain task per lane.
/// </summary>
public sealed class LaneReader : IDisposable
{
    private readonly BufferLane _lane;
    private FasterLogScanIterator? _iterator;
    private long _readAddress;
    private long _evictedTo;
    private int _epoch;

    // Topic names and header keys repeat on almost every entry: decoded once, then shared.
    private readonly StringCache _strings = new();

    internal LaneReader(BufferLane lane)
    {
        _lane = lane;
    }

    /// <summary>Address of the next entry <see cref="Read"/> will return.</summary>
    public long ReadAddress => Math.Max(_readAddress, _lane.BeginAddress);

    /// <summary>True when committed entries are waiting beyond the read address.</summary>
    public bool HasCommittedData => ReadAddress < _lane.CommittedUntilAddress;

    /// <summary>
    /// Returns up to <paramref name="maxRecords"/> committed entries (and about <paramref name="maxBytes"/> bytes)
    /// from the read address, or null when nothing committed is waiting. Never waits for new data.
    /// </summary>
    public LaneBatch? Read(int maxRecords, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecords, 1);
        _lane.OwnerThrowIfFaulted();
        SyncWithEvictions();
        var it = _iterator ??= _lane.Log.Scan(ReadAddress, long.MaxValue, recover: false);
        var entries = new List<BufferEntry>(Math.Min(maxRecords, 1024));
        long bytes = 0;
        var start = ReadAddress;
        var end = start;
        try
        {
            while (entries.Count < maxRecords && bytes < maxBytes)
            {
                if (!TryReadNext(it, out var entry, out var len))
                {
                    break;
                }

                entries.Add(entry);
                bytes += len;
                end = entry.NextAddress;
            }
        }
        catch (FasterException e)
        {
            throw _lane.OwnerFault($"lane '{_lane.Name}': committed entry at address {it.NextAddress} failed its checksum; refusing to skip it", new BufferCorruptionException(e.Message, e));
        }

        if (entries.Count == 0)
        {
            return null;
        }

        _readAddress = end;
        return new LaneBatch(_lane, start, end, entries, bytes, _epoch);
    }

    /// <summary>
    /// Decodes the next entry straight from the log's memory (no intermediate copy of the entry; the decoded record
    /// owns its own key, value and header arrays). The checksum is verified by FASTER as with a copying read.
    /// </summary>
    private unsafe bool TryReadNext(FasterLogScanIterator it, out BufferEntry entry, out int length)
    {
        if (!it.UnsafeGetNext(out var raw, out length, out var cur, out var next))
        {
            entry = null!;
            return false;
        }

        try
        {
            entry = _lane.Decode(new ReadOnlySpan<byte>(raw, length), cur, next, _strings);
            return true;
        }
        finally
        {
            it.UnsafeRelease();
        }
    }

    /// <summary>Waits until committed data is waiting beyond the read address, or the timeout passes. Returns whether data is waiting.</summary>
    public async ValueTask<bool> WaitForDataAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        if (HasCommittedData)
        {
            return true;
        }

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            while (!HasCommittedData)
            {
                await _lane.Log.WaitForCommitAsync(_lane.Log.CommittedUntilAddress + 1, token: cts.Token);
            }

            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return HasCommittedData;
        }
    }

    /// <summary>Forgets batches handed out but not completed: the next read starts again at the oldest undelivered entry.</summary>
    public void Rewind()
    {
        _readAddress = _lane.BeginAddress;
        _iterator?.Dispose();
        _iterator = null;
        _epoch++;
    }

    /// <summary>
    /// Takes the delivery lease for a batch: while held, nothing in the lane is evicted. Returns null when the batch
    /// is no longer the oldest undelivered data (it was evicted, expired or already delivered); the caller must then
    /// abandon (abort) its delivery and read again.
    /// </summary>
    public async ValueTask<DeliveryLease?> BeginDeliveryAsync(LaneBatch batch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(batch);
        _lane.OwnerThrowIfFaulted();
        await _lane.DeliveryGate.WaitAsync(cancellationToken);
        // Deliverable only if the batch starts exactly at the oldest undelivered entry (earlier batches completed,
        // nothing evicted since it was read).
        if (batch.Epoch != _epoch || batch.StartAddress != _lane.BeginAddress)
        {
            // Stale (evicted or expired meanwhile): later reads must start again at the oldest undelivered entry.
            Rewind();
            _lane.DeliveryGate.Release();
            return null;
        }

        return new DeliveryLease(_lane, batch);
    }

    /// <summary>
    /// Takes the delivery gate first and then reads the next batch from the oldest undelivered entry, so the batch
    /// cannot be evicted between reading and leasing (with <see cref="Read"/> followed by
    /// <see cref="BeginDeliveryAsync"/>, a drop-oldest lane that ingest keeps full evicts in that window almost every
    /// time). Returns null, holding nothing, when nothing committed is waiting.
    /// </summary>
    public async ValueTask<DeliveryLease?> ReadForDeliveryAsync(int maxRecords, long maxBytes, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecords, 1);
        _lane.OwnerThrowIfFaulted();
        await _lane.DeliveryGate.WaitAsync(cancellationToken);
        try
        {
            if (_readAddress != _lane.BeginAddress)
            {
                // Under the gate nothing else is leased, so the next delivery must start at the begin.
                Rewind();
            }

            var batch = Read(maxRecords, maxBytes);
            if (batch is null)
            {
                _lane.DeliveryGate.Release();
                return null;
            }

            return new DeliveryLease(_lane, batch);
        }
        catch
        {
            _lane.DeliveryGate.Release();
            throw;
        }
    }

    /// <summary>
    /// Removes everything before <paramref name="address"/> without delivering it, because the destination already
    /// has it (found in a checkpoint after a restart). Addresses at or below the current begin are ignored.
    /// </summary>
    public async ValueTask SkipToAsync(long address, int records, CancellationToken cancellationToken = default)
    {
        await _lane.DeliveryGate.WaitAsync(cancellationToken);
        try
        {
            if (address > _lane.BeginAddress)
            {
                await _lane.AckAsync(Math.Min(address, _lane.CommittedUntilAddress), records);
                Rewind();
            }
        }
        finally
        {
            _lane.DeliveryGate.Release();
        }
    }

    /// <summary>Releases the iterator.</summary>
    public void Dispose()
    {
        _iterator?.Dispose();
        _iterator = null;
    }

    internal void OnEvicted(long newBegin)
    {
        // Called under the lane lock by eviction; the reader thread notices on its next call.
        Volatile.Write(ref _evictedTo, newBegin);
    }

    private void SyncWithEvictions()
    {
        var evicted = Volatile.Read(ref _evictedTo);
        if (evicted > _readAddress || (_iterator is not null && _lane.BeginAddress > _readAddress))
        {
            Rewind();
        }
    }
}

/// <summary>A contiguous run of committed entries read from a lane.</summary>
public sealed class LaneBatch
{
    internal LaneBatch(BufferLane lane, long start, long end, IReadOnlyList<BufferEntry> entries, long bytes, int epoch)
    {
        Lane = lane;
        StartAddress = start;
        EndAddress = end;
        Entries = entries;
        PayloadBytes = bytes;
        Epoch = epoch;
        RecordCount = entries.Count(e => e.Kind == EntryKind.Record);
    }

    /// <summary>The lane the batch came from.</summary>
    public BufferLane Lane { get; }

    /// <summary>Address of the first entry.</summary>
    public long StartAddress { get; }

    /// <summary>Address right after the last entry: the lane's new begin once the batch is delivered.</summary>
    public long EndAddress { get; }

    /// <summary>The entries, in order.</summary>
    public IReadOnlyList<BufferEntry> Entries { get; }

    /// <summary>Encoded bytes of the entries (without FASTER headers).</summary>
    public long PayloadBytes { get; }

    /// <summary>Records (not gap markers) in the batch.</summary>
    public int RecordCount { get; }

    internal int Epoch { get; }
}

/// <summary>
/// Exclusive right to deliver one batch: eviction waits while it is held. Complete it once the destination has
/// acknowledged the batch (e.g. the transaction committed); dispose it without completing to abandon the delivery,
/// which rewinds the reader.
/// </summary>
public sealed class DeliveryLease : IAsyncDisposable
{
    private readonly BufferLane _lane;
    private bool _done;

    internal DeliveryLease(BufferLane lane, LaneBatch batch)
    {
        _lane = lane;
        Batch = batch;
    }

    /// <summary>The batch being delivered.</summary>
    public LaneBatch Batch { get; }

    /// <summary>The batch was delivered: truncate the lane up to its end (durable at the next group commit).</summary>
    public async ValueTask CompleteAsync()
    {
        ObjectDisposedException.ThrowIf(_done, this);
        _done = true;
        try
        {
            await _lane.AckAsync(Batch.EndAddress, Batch.RecordCount);
        }
        finally
        {
            _lane.DeliveryGate.Release();
        }
    }

    /// <summary>Abandons the delivery if it was not completed: the reader rewinds to the oldest undelivered entry.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_done)
        {
            _done = true;
            _lane.Reader.Rewind();
            _lane.DeliveryGate.Release();
        }

        return ValueTask.CompletedTask;
    }
}
