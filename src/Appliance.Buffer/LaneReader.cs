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
    /// from the read address, or null when nothing committed is waiting. Never waits for new data. Every entry's CRC
    /// is checked here; the batch keeps the entries encoded and decodes each one when it is accessed
    /// (<see cref="LaneBatch.Entries"/>).
    /// </summary>
    public LaneBatch? Read(int maxRecords, long maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRecords, 1);
        _lane.OwnerThrowIfFaulted();
        SyncWithEvictions();
        var it = _iterator ??= _lane.Log.Scan(ReadAddress, long.MaxValue, recover: false);
        var (data, slots) = TakeBuffers(maxRecords, maxBytes);
        var count = 0;
        var used = 0;
        long bytes = 0;
        var start = ReadAddress;
        var end = start;
        try
        {
            while (count < maxRecords && bytes < maxBytes)
            {
                if (!TryCopyNext(it, ref data, used, out var slot))
                {
                    break;
                }

                if (count == slots.Length)
                {
                    slots = Grow(slots, count + 1);
                }

                slots[count++] = slot;
                used += slot.Length;
                bytes += slot.Length;
                end = slot.NextAddress;
            }
        }
        catch (FasterException e)
        {
            ReturnBuffers(data, slots);
            throw _lane.OwnerFault($"lane '{_lane.Name}': committed entry at address {it.NextAddress} failed its checksum; refusing to skip it", new BufferCorruptionException(e.Message, e));
        }
        catch
        {
            ReturnBuffers(data, slots);
            throw;
        }

        if (count == 0)
        {
            ReturnBuffers(data, slots);
            return null;
        }

        _readAddress = end;
        return new LaneBatch(this, _lane, start, end, data, slots, count, bytes, _epoch, _strings);
    }

    /// <summary>First size of a batch's buffer; it grows (doubling) when a batch needs more.</summary>
    private const int InitialBatchBuffer = 1 << 20;

    /// <summary>
    /// The buffers of the last batch whose lease ended, reused by the next read (the drain has one batch per lane out
    /// at a time, so a lane keeps one pair of buffers, sized by its largest batch; they live in the large object heap
    /// and cost the garbage collector nothing while reused). A batch read while another is out gets new ones.
    /// </summary>
    private (byte[] Data, EntrySlot[] Slots)? _spare;
    private readonly Lock _spareLock = new();

    private (byte[] Data, EntrySlot[] Slots) TakeBuffers(int maxRecords, long maxBytes)
    {
        lock (_spareLock)
        {
            if (_spare is { } spare)
            {
                _spare = null;
                return spare;
            }
        }

        return (new byte[(int)Math.Clamp(maxBytes, 4096, InitialBatchBuffer)], new EntrySlot[Math.Min(maxRecords, 1024)]);
    }

    /// <summary>Keeps a batch's buffers for the next read (the larger pair, when two batches were out).</summary>
    internal void ReturnBuffers(byte[] data, EntrySlot[] slots)
    {
        lock (_spareLock)
        {
            if (_spare is not { } spare || spare.Data.Length < data.Length)
            {
                _spare = (data, slots);
            }
        }
    }

    /// <summary>
    /// Copies the next entry from the log's memory into <paramref name="data"/> at <paramref name="offset"/> (growing
    /// it if needed) and checks its CRC. FASTER verifies its own checksum as with a copying read.
    /// </summary>
    private unsafe bool TryCopyNext(FasterLogScanIterator it, ref byte[] data, int offset, out EntrySlot slot)
    {
        if (!it.UnsafeGetNext(out var raw, out var length, out var cur, out var next))
        {
            slot = default;
            return false;
        }

        try
        {
            if (offset + length > data.Length)
            {
                data = Grow(data, offset + length, offset);
            }

            var entry = data.AsSpan(offset, length);
            new ReadOnlySpan<byte>(raw, length).CopyTo(entry);
            slot = new EntrySlot(offset, length, cur, next, _lane.Verify(entry, cur));
            return true;
        }
        finally
        {
            it.UnsafeRelease();
        }
    }

    /// <summary>An array at least twice as large (and at least <paramref name="needed"/>), holding the first <paramref name="keep"/> elements of <paramref name="old"/>.</summary>
    private static T[] Grow<T>(T[] old, int needed, int? keep = null)
    {
        var bigger = new T[Math.Max(needed, old.Length * 2)];
        old.AsSpan(0, keep ?? old.Length).CopyTo(bigger);
        return bigger;
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

/// <summary>Where one encoded entry sits in a batch's buffer, its addresses and its kind.</summary>
internal readonly record struct EntrySlot(int Offset, int Length, long Address, long NextAddress, EntryKind Kind);

/// <summary>
/// A contiguous run of committed entries read from a lane. The entries stay encoded in one buffer (their CRCs already
/// checked) and are decoded when accessed: a batch of a few MiB then costs the garbage collector nothing while it waits
/// for its transaction to commit, and each decoded record can be dropped as soon as it has been sent. The buffer goes
/// back to the reader for its next batch when the batch's delivery lease ends; the entries cannot be read after that.
/// </summary>
public sealed class LaneBatch
{
    private readonly LaneReader _reader;
    private readonly StringCache _strings;
    private readonly int _count;
    private byte[]? _data;
    private EntrySlot[]? _slots;

    internal LaneBatch(LaneReader reader, BufferLane lane, long start, long end, byte[] data, EntrySlot[] slots, int count, long bytes, int epoch, StringCache strings)
    {
        _reader = reader;
        Lane = lane;
        _strings = strings;
        _data = data;
        _slots = slots;
        _count = count;
        StartAddress = start;
        EndAddress = end;
        PayloadBytes = bytes;
        Epoch = epoch;
        for (var i = 0; i < count; i++)
        {
            if (slots[i].Kind == EntryKind.Record)
            {
                RecordCount++;
            }
            else
            {
                GapCount++;
            }
        }

        Entries = new EntryList(this);
    }

    /// <summary>The lane the batch came from.</summary>
    public BufferLane Lane { get; }

    /// <summary>Address of the first entry.</summary>
    public long StartAddress { get; }

    /// <summary>Address right after the last entry: the lane's new begin once the batch is delivered.</summary>
    public long EndAddress { get; }

    /// <summary>
    /// The entries, in order, each decoded when it is accessed (accessing one twice decodes it twice; each decoded entry
    /// owns its arrays). Throws <see cref="ObjectDisposedException"/> once the batch's delivery lease has ended.
    /// </summary>
    public IReadOnlyList<BufferEntry> Entries { get; }

    /// <summary>Encoded bytes of the entries (without FASTER headers).</summary>
    public long PayloadBytes { get; }

    /// <summary>Records (not gap markers) in the batch.</summary>
    public int RecordCount { get; }

    /// <summary>Gap markers in the batch.</summary>
    public int GapCount { get; }

    internal int Epoch { get; }

    /// <summary>Gives the buffers back to the reader (the delivery lease ended). Entries cannot be read after this.</summary>
    internal void Release()
    {
        if (_data is { } data && _slots is { } slots)
        {
            _data = null;
            _slots = null;
            _reader.ReturnBuffers(data, slots);
        }
    }

    private BufferEntry Decode(int index)
    {
        var (data, slot) = Slot(index);
        return Lane.Decode(data.AsSpan(slot.Offset, slot.Length), slot.Address, slot.NextAddress, _strings, verified: true);
    }

    // Entry index's slot and the buffer it is in; throws once the lease has ended.
    private (byte[] Data, EntrySlot Slot) Slot(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, _count);
        var data = _data;
        var slots = _slots;
        ObjectDisposedException.ThrowIf(data is null || slots is null, this);
        return (data, slots[index]);
    }

    /// <summary>
    /// Reads entry <paramref name="index"/> in place when it is a record (false for a gap marker: use
    /// <see cref="Entries"/>). The view points into the batch's buffer: use it before the delivery lease ends. Throws
    /// <see cref="ObjectDisposedException"/> once the lease has ended.
    /// </summary>
    public bool TryReadRecord(int index, out RecordView record)
    {
        var (data, slot) = Slot(index);
        if (slot.Kind != EntryKind.Record)
        {
            record = default;
            return false;
        }

        record = Lane.ReadRecord(data.AsSpan(slot.Offset, slot.Length), slot.Address, _strings);
        return true;
    }

    private sealed class EntryList(LaneBatch batch) : IReadOnlyList<BufferEntry>
    {
        public BufferEntry this[int index] => batch.Decode(index);

        public int Count => batch._count;

        public IEnumerator<BufferEntry> GetEnumerator()
        {
            for (var i = 0; i < batch._count; i++)
            {
                yield return batch.Decode(i);
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}

/// <summary>
/// Exclusive right to deliver one batch: eviction waits while it is held. Complete it once the destination has
/// acknowledged the batch (e.g. the transaction committed); dispose it without completing to abandon the delivery,
/// which rewinds the reader. Either way the batch's entries cannot be read afterwards (its counts and addresses can).
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
            Batch.Release();
            _lane.DeliveryGate.Release();
        }
    }

    /// <summary>Abandons the delivery if it was not completed: the reader rewinds to the oldest undelivered entry.</summary>
    public ValueTask DisposeAsync()
    {
        if (!_done)
        {
            _done = true;
            Batch.Release();
            _lane.Reader.Rewind();
            _lane.DeliveryGate.Release();
        }

        return ValueTask.CompletedTask;
    }
}
