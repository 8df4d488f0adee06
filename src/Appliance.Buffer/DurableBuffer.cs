using System.Buffers.Binary;
using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using Appliance.Core.Records;
using FASTER.core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Buffer;

/// <summary>
/// The durable priority buffer: one FasterLog per lane under one data directory, group-committed, bounded by a
/// total budget and per-lane quotas. Contract: a record appended and then covered by <see cref="WhenDurableAsync"/>
/// survives process kill and power loss (as far as the device honours O_SYNC); recovery returns exactly the committed
/// entries, in order, per lane. Faults are sticky (<see cref="BufferFaultedException"/>).
/// </summary>
public sealed class DurableBuffer : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly List<BufferLane> _lanes;
    private readonly Dictionary<string, BufferLane> _byName;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);

    // Resume points and source progress only move the restart position forward (replays below it are recognised),
    // so they ride along with the next data commit instead of forcing one; alone they are committed after this delay.
    private static readonly TimeSpan ProgressCommitDelay = TimeSpan.FromMilliseconds(200);
    private int _progressDirty;
    private readonly Task _commitLoop;
    private readonly Task _maintenanceLoop;
    private int _dirty;
    private TaskCompletionSource _forceCommit = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Completed by the next commit round to start, once it has finished (resume points proposed included).
    private TaskCompletionSource _nextRound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private BufferFaultedException? _fault;
    private int _disposed;

    private DurableBuffer(BufferOptions options, BufferFormat format, ILoggerFactory loggerFactory, TimeProvider time, Func<LaneOptions, int, DurableBuffer, BufferLane> openLane)
    {
        Options = options;
        Spares = SparePool.For(options);
        Incarnation = format.Incarnation;
        Time = time;
        _logger = loggerFactory.CreateLogger<DurableBuffer>();
        _lanes = [];
        try
        {
            for (var i = 0; i < options.Lanes.Count; i++)
            {
                _lanes.Add(openLane(options.Lanes[i], i, this));
            }
        }
        catch
        {
            foreach (var l in _lanes)
            {
                l.Dispose();
            }

            throw;
        }

        _byName = _lanes.ToDictionary(l => l.Name, StringComparer.Ordinal);
        _commitLoop = Task.Run(CommitLoopAsync);
        _maintenanceLoop = Task.Run(MaintenanceLoopAsync);
    }

    /// <summary>The settings the buffer was opened with.</summary>
    public BufferOptions Options { get; }

    /// <summary>The delivered segment files kept for reuse, shared by all lanes' log devices.</summary>
    internal SparePool Spares { get; }

    /// <summary>Random id of this buffer directory, created with it. Checkpoints written downstream carry it.</summary>
    public string Incarnation { get; }

    /// <summary>Lanes in priority order (highest first).</summary>
    public IReadOnlyList<BufferLane> Lanes => _lanes;

    /// <summary>Total log bytes held by all lanes.</summary>
    public long TotalBufferedBytes
    {
        get
        {
            // On the append path: a plain loop, no allocation.
            long total = 0;
            for (var i = 0; i < _lanes.Count; i++)
            {
                total += _lanes[i].BufferedBytes;
            }

            return total;
        }
    }

    /// <summary>True after a device or commit failure; see <see cref="FaultException"/>.</summary>
    public bool IsFaulted => Volatile.Read(ref _fault) is not null;

    /// <summary>The sticky fault, or null while healthy.</summary>
    public BufferFaultedException? FaultException => Volatile.Read(ref _fault);

    /// <summary>Raised after records are dropped (lane, reason, count). Handlers must be fast and must not call back into the buffer.</summary>
    public event Action<string, DropReason, long>? RecordsDropped;

    internal TimeProvider Time { get; }

    /// <summary>Opens (recovering) or creates the buffer in <see cref="BufferOptions.DataDirectory"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid; the message lists every problem with its key.</exception>
    /// <exception cref="BufferFormatException">The directory was written by an incompatible format version.</exception>
    /// <exception cref="BufferCorruptionException">Committed data failed verification.</exception>
    public static DurableBuffer Open(BufferOptions options, ILoggerFactory? loggerFactory = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var problems = Validate(options);
        if (problems.Count > 0)
        {
            throw new ArgumentException("invalid buffer options: " + string.Join("; ", problems), nameof(options));
        }

        loggerFactory ??= NullLoggerFactory.Instance;
        time ??= TimeProvider.System;
        var format = BufferFormat.OpenOrCreate(options.DataDirectory, time);
        var lanesDir = Path.Combine(options.DataDirectory, "lanes");
        Directory.CreateDirectory(lanesDir);
        var configured = options.Lanes.Select(l => l.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var dir in Directory.EnumerateDirectories(lanesDir))
        {
            var name = Path.GetFileName(dir);
            if (!configured.Contains(name) && Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories).Any())
            {
                throw new BufferFormatException($"lane '{name}' has data in {dir} but is not configured in Buffer:Lanes; add it back (and drain it) or move the directory away");
            }
        }

        if (format.UpgradeIfNeeded(options.DataDirectory) is { } upgradedFrom)
        {
            BufferLog.FormatUpgraded(loggerFactory.CreateLogger<DurableBuffer>(), options.DataDirectory, upgradedFrom, BufferFormat.CurrentVersion);
        }

        var laneLogger = loggerFactory.CreateLogger<BufferLane>();
        var buffer = new DurableBuffer(options, format, loggerFactory, time, (lo, i, owner) => OpenLane(owner, lo, i, Path.Combine(lanesDir, lo.Name), laneLogger));
        BufferLog.Opened(buffer._logger, options.ToString(), format.Incarnation);
        return buffer;
    }

    /// <summary>Every problem with the options, each naming its configuration key; empty when valid.</summary>
    public static IReadOnlyList<string> Validate(BufferOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(options, new ValidationContext(options), results, validateAllProperties: true);
        return results.Select(r => $"Buffer:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}").Concat(options.ValidateCrossField()).ToList();
    }

    /// <summary>The lane with this name.</summary>
    /// <exception cref="KeyNotFoundException">No such lane.</exception>
    public BufferLane Lane(string name) => _byName.TryGetValue(name, out var lane) ? lane : throw new KeyNotFoundException($"no lane named '{name}'; lanes: {string.Join(", ", _byName.Keys)}");

    /// <summary>
    /// For each source partition, the next offset to consume after a restart: every record of the partition below it
    /// is durable in its lane (or accounted as dropped). Persisted with the top lane about one group commit behind the
    /// data, so some records at or after it may already be buffered; appending them again returns
    /// <see cref="AppendStatus.AlreadyBuffered"/>. Requires that each partition's records are appended in offset order.
    /// Partitions never seen are absent.
    /// </summary>
    public IReadOnlyDictionary<SourcePartition, long> GetResumePoints() => _lanes[0].DurableState.ResumePoints;

    /// <summary>The durable per-partition checkpoints stored with <see cref="StoreSourceProgressAsync"/>.</summary>
    public IReadOnlyDictionary<SourcePartition, string> GetSourceCheckpoints() => _lanes[0].DurableState.SourceCheckpoints;

    /// <summary>
    /// Records progress that the buffer cannot see by itself: offsets consumed without storing anything (filtered,
    /// dead-lettered) and an opaque checkpoint per partition (for example open pipeline windows). Call it only after
    /// <see cref="WhenDurableAsync"/> covered every record below <paramref name="nextOffsets"/>: it is persisted with
    /// the next commit, never before the data it describes.
    /// </summary>
    public async ValueTask StoreSourceProgressAsync(IReadOnlyDictionary<SourcePartition, long> nextOffsets, IReadOnlyDictionary<SourcePartition, string>? checkpoints = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(nextOffsets);
        ThrowIfFaulted();
        await _lanes[0].ProposeResumePointsAsync(nextOffsets, checkpoints, cancellationToken);
    }

    /// <summary>
    /// Completes when every change made before the call (appends, drops, deliveries) is committed to disk. Call it
    /// after appending a batch and before acknowledging that batch upstream.
    /// </summary>
    public async ValueTask WhenDurableAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        var versions = new long[_lanes.Count];
        var any = false;
        for (var i = 0; i < _lanes.Count; i++)
        {
            versions[i] = _lanes[i].Version;
            any |= _lanes[i].HasUncommittedChanges;
        }

        if (!any)
        {
            return;
        }

        // Someone is waiting: commit now. Waiters arriving while a commit is in flight share the next one
        // (group commit); the interval only bounds how long unwaited appends stay uncommitted.
        RequestCommit();
        for (var i = 0; i < _lanes.Count; i++)
        {
            await _lanes[i].WaitDurableAsync(versions[i], cancellationToken);
        }
    }

    /// <summary>
    /// Commits now instead of at the next interval, and waits for that whole commit round: everything changed before
    /// the call is durable, and the resume points the round established are proposed (they are persisted by the
    /// round after it, so two calls in a row make them durable).
    /// </summary>
    public async ValueTask CommitNowAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        ThrowIfFaulted();
        var round = Volatile.Read(ref _nextRound).Task;
        RequestCommit();
        await round.WaitAsync(cancellationToken);
    }

    /// <summary>Runs TTL expiry on every lane now (it also runs every <see cref="BufferOptions.MaintenanceInterval"/>).</summary>
    public async ValueTask RunMaintenanceAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfFaulted();
        var nowMs = Time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var lane in _lanes)
        {
            try
            {
                await lane.ExpireAsync(nowMs, cancellationToken);
            }
            catch (Exception e) when (e is not (OperationCanceledException or BufferException))
            {
                throw Fault($"TTL expiry of lane '{lane.Name}' failed", e);
            }
        }
    }

    /// <summary>Stops the background loops, commits what is pending, and closes every lane.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_commitLoop, _maintenanceLoop);
        }
        catch (OperationCanceledException)
        {
        }

        if (!IsFaulted)
        {
            try
            {
                // Two rounds: the second persists the resume points the first one established.
                await CommitRoundAsync(CancellationToken.None);
                await CommitRoundAsync(CancellationToken.None);
            }
            catch (Exception e) when (e is BufferException)
            {
                // Already logged as a fault; closing continues.
            }
        }

        foreach (var lane in _lanes)
        {
            lane.Dispose();
        }

        _stop.Dispose();
        _wake.Dispose();
    }

    internal void ThrowIfFaulted()
    {
        if (Volatile.Read(ref _fault) is { } f)
        {
            throw new BufferFaultedException(f.Message, f.InnerException);
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
    }

    /// <summary>Makes the fault sticky, fails every waiter, and returns the exception to throw.</summary>
    internal BufferFaultedException Fault(string reason, Exception inner)
    {
        if (inner is BufferFaultedException already)
        {
            return already;
        }

        var fault = new BufferFaultedException($"buffer faulted: {reason}: {inner.Message}", inner);
        if (Interlocked.CompareExchange(ref _fault, fault, null) is null)
        {
            BufferLog.Faulted(_logger, inner, reason);
            foreach (var lane in _lanes)
            {
                lane.FailWaiters(fault);
            }
        }

        return Volatile.Read(ref _fault)!;
    }

    internal void NoteUncommitted()
    {
        // A plain read first: appends call this per record and must not bounce the cache line.
        if (Volatile.Read(ref _dirty) == 0 && Interlocked.Exchange(ref _dirty, 1) == 0)
        {
            _wake.Release();
        }
    }

    /// <summary>Progress (resume points, source checkpoints) changed: commit it with the next commit, at the latest after <see cref="ProgressCommitDelay"/>.</summary>
    internal void NoteProgressUncommitted() => Volatile.Write(ref _progressDirty, 1);

    internal void RequestCommit()
    {
        Volatile.Read(ref _forceCommit).TrySetResult();
        NoteUncommitted();
    }

    internal void NoteDropped(BufferLane lane, DropReason reason, long records)
    {
        if (records > 0)
        {
            RecordsDropped?.Invoke(lane.Name, reason, records);
        }
    }

    /// <summary>Evicts from lower-priority drop-oldest lanes until the total budget has room for <paramref name="size"/> bytes.</summary>
    internal async ValueTask<bool> EvictLowerLanesAsync(BufferLane requester, long size, long nowMs, CancellationToken ct)
    {
        var need = TotalBufferedBytes + size - Options.TotalBudgetBytes;
        for (var i = _lanes.Count - 1; need > 0 && i > requester.Priority; i--)
        {
            var lower = _lanes[i];
            if (lower.Options.FullPolicy == FullPolicy.DropOldest && lower.BufferedBytes > 0)
            {
                need -= await lower.EvictForHigherLaneAsync(need, nowMs, ct);
            }
        }

        return need <= 0;
    }

    internal async ValueTask CommitLaneAsync(BufferLane lane, CancellationToken ct)
    {
        try
        {
            var started = await lane.BeginCommitAsync(ct);
            if (started is { } c)
            {
                // A failed metadata write is swallowed inside FASTER's commit worker and that commit never completes:
                // the manager's failure ends the wait instead.
                var committed = lane.Log.WaitForCommitAsync(c.Tail, c.CommitNum, ct).AsTask();
                if (await Task.WhenAny(committed, lane.CommitManager.Failed) != committed)
                {
                    throw new IOException($"commit metadata of lane '{lane.Name}' could not be written: {lane.CommitManager.Failed.Result.Message}", lane.CommitManager.Failed.Result);
                }

                await committed;
                lane.CompleteCommit(c.Version, c.State, c.Tail);
            }
        }
        catch (Exception e) when (e is not (OperationCanceledException or BufferException))
        {
            throw Fault($"commit of lane '{lane.Name}' failed", e);
        }
    }

    private async Task CommitLoopAsync()
    {
        var ct = _stop.Token;
        var interval = TimeSpan.FromMilliseconds(Options.CommitIntervalMs);
        try
        {
            while (!ct.IsCancellationRequested)
            {
                var woken = await _wake.WaitAsync(Volatile.Read(ref _progressDirty) != 0 ? ProgressCommitDelay : Timeout.InfiniteTimeSpan, ct);
                var force = Volatile.Read(ref _forceCommit).Task;
                if (woken && !force.IsCompleted)
                {
                    // Group commit window: gather appends for up to the interval, unless a commit is requested.
                    await Task.WhenAny(Task.Delay(interval, ct), force);
                }

                Interlocked.Exchange(ref _forceCommit, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
                Interlocked.Exchange(ref _dirty, 0);
                Interlocked.Exchange(ref _progressDirty, 0);
                await CommitRoundAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (BufferException)
        {
            // Sticky fault already recorded and logged; nothing more will be committed.
            Volatile.Read(ref _nextRound).TrySetException(Volatile.Read(ref _fault) ?? new BufferFaultedException("the buffer faulted"));
        }
    }

    /// <summary>
    /// One group commit over all lanes with changes. Before it, a snapshot of every lane's appended positions is taken
    /// under all lane locks (priority order); once every commit succeeded, everything in the snapshot is durable, so
    /// it becomes the resume points (persisted with the top lane's next commit).
    /// </summary>
    private async Task CommitRoundAsync(CancellationToken ct)
    {
        var round = Interlocked.Exchange(ref _nextRound, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            await CommitRoundCoreAsync(ct);
            round.TrySetResult();
        }
        catch (Exception e)
        {
            round.TrySetException(e);
            throw;
        }
    }

    private async Task CommitRoundCoreAsync(CancellationToken ct)
    {
        var snapshot = new Dictionary<SourcePartition, long>();
        var locked = 0;
        try
        {
            foreach (var lane in _lanes)
            {
                await lane.AcquireSnapshotLockAsync(ct);
                locked++;
            }

            foreach (var lane in _lanes)
            {
                lane.MergeAppendedPositionsLocked(snapshot);
            }
        }
        finally
        {
            for (var i = 0; i < locked; i++)
            {
                _lanes[i].ReleaseSnapshotLock();
            }
        }

        var started = Time.GetTimestamp();
        var commits = new List<Task>(_lanes.Count);
        foreach (var lane in _lanes)
        {
            if (lane.HasUncommittedChanges)
            {
                commits.Add(CommitLaneAsync(lane, ct).AsTask());
            }
        }

        await Task.WhenAll(commits);
        await _lanes[0].ProposeResumePointsAsync(snapshot, null, ct);
        NoteCommitTime(commits.Count, Time.GetElapsedTime(started));
    }

    /// <summary>A commit round at or above this takes a debug line (what a latency outlier of the ingest waited for).</summary>
    private static readonly TimeSpan SlowCommitThreshold = TimeSpan.FromMilliseconds(100);

    /// <summary>A commit round at or above this is a warning: the disk, not the load, holds the ingest back.</summary>
    private static readonly TimeSpan VerySlowCommitThreshold = TimeSpan.FromSeconds(1);

    private void NoteCommitTime(int lanes, TimeSpan elapsed)
    {
        if (elapsed >= VerySlowCommitThreshold)
        {
            BufferLog.VerySlowCommit(_logger, lanes, (long)elapsed.TotalMilliseconds);
        }
        else if (elapsed >= SlowCommitThreshold)
        {
            BufferLog.SlowCommit(_logger, lanes, (long)elapsed.TotalMilliseconds);
        }
    }

    private async Task MaintenanceLoopAsync()
    {
        var ct = _stop.Token;
        if (!Options.Lanes.Any(l => l.Ttl is not null))
        {
            return;
        }

        try
        {
            while (!ct.IsCancellationRequested)
            {
                await Task.Delay(Options.MaintenanceInterval, Time, ct);
                await RunMaintenanceAsync(ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
        }
        catch (BufferException)
        {
        }
    }

    private static BufferLane OpenLane(DurableBuffer owner, LaneOptions lo, int priority, string dir, ILogger logger)
    {
        var created = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        var sw = Stopwatch.StartNew();
        IDevice device = new SegmentFileDevice(Path.Combine(dir, "log"), owner.Spares);
        device = owner.Options.WrapDevice?.Invoke(device) ?? device;
        LaneCommitManager commits;
        try
        {
            commits = new LaneCommitManager(Path.Combine(dir, "commits"));
        }
        catch
        {
            device.Dispose();
            throw;
        }

        owner.Options.CommitManagerCreated?.Invoke(lo.Name, commits);
        var settings = new FasterLogSettings
        {
            LogDevice = device,
            PageSizeBits = owner.Options.PageSizeBits,
            MemorySizeBits = owner.Options.MemorySizeBits,
            SegmentSizeBits = owner.Options.SegmentSizeBits,
            LogChecksum = LogChecksumType.PerEntry,
            // Not FastCommitMode: with it, FASTER flushes pages in parallel and puts commit records in the log, so after
            // a SIGKILL a later page holding a commit record can be on disk while the end of an earlier page is not;
            // recovery scans forward, reads the zeros as end-of-page padding and accepts that commit with a silent
            // hole (seen in CrashTests). Normal commits write metadata only once the log is flushed contiguously
            // past the commit point.
            FastCommitMode = false,
            // Our own manager (two commit slots written in place): FASTER's ignores a failed metadata write (full disk)
            // and then deletes the previous commit, which loses the whole lane at the next restart (LaneCommitManager).
            LogCommitManager = commits,
            TryRecoverLatest = true,
            AutoRefreshSafeTailAddress = false,
        };

        FasterLog? log = null;
        try
        {
            log = new FasterLog(settings);
            if (commits.FilesAtOpen > 0 && commits.RecoveredCommit is null)
            {
                // FASTER found commit files but could use none, and would start the lane empty: that silently drops
                // everything the lane held. Refuse instead.
                throw new BufferCorruptionException($"lane '{lo.Name}': none of its {commits.FilesAtOpen} commit metadata file(s) in {Path.Combine(dir, "commits")} can be read; refusing to open it empty, which would lose what it held (inspect with appliancectl buffer inspect, then move the directory aside)");
            }

            if (commits.UnreadableNewer > 0)
            {
                BufferLog.UnreadableCommits(logger, lo.Name, commits.UnreadableNewer, commits.RecoveredCommit ?? 0);
            }

            var state = LaneState.Deserialize(log.RecoveredCookie, lo.Name);
            var lane = new BufferLane(owner, lo, priority, log, device, state, logger, commits);
            VerifyCommittedTail(lane, owner.Options.PageSizeBits);
            ReportTornTail(lane, Path.Combine(dir, "log"), owner.Options.SegmentSizeBits, owner.Options.PageSizeBits, logger);
            if (created)
            {
                BufferLog.LaneCreated(logger, lo.Name);
            }
            else
            {
                BufferLog.LaneRecovered(logger, lo.Name, sw.ElapsedMilliseconds, lane.BufferedBytes, state.AppendedRecords - state.RemovedRecords, lane.BeginAddress, log.CommittedUntilAddress);
            }

            return lane;
        }
        catch
        {
            log?.Dispose();
            commits.Dispose();
            device.Dispose();
            throw;
        }
    }

    /// <summary>Reads back the last committed page(s) and checks every entry's checksum and encoding.</summary>
    private static void VerifyCommittedTail(BufferLane lane, int pageSizeBits)
    {
        var log = lane.Log;
        var tail = lane.CommittedUntilAddress;
        // Entries never span pages, so a page start is an entry boundary.
        var from = Math.Max(lane.BeginAddress, ((tail - (1L << pageSizeBits)) >> pageSizeBits) << pageSizeBits);
        if (from >= tail)
        {
            return;
        }

        using var it = log.Scan(from, tail, recover: false);
        try
        {
            while (it.GetNext(out var bytes, out var len, out var cur, out var next))
            {
                lane.Decode(bytes, len, cur, next);
            }
        }
        catch (FasterException e)
        {
            throw new BufferCorruptionException($"lane '{lane.Name}': committed entry at or after address {it.NextAddress} failed its checksum during recovery; refusing to open (the data directory needs inspection: appliancectl buffer inspect)", e);
        }
    }

    /// <summary>
    /// Logs the entries written after the last commit that recovery discards (a torn tail). Reads the segment files
    /// directly: from the start of the page before the committed tail up to it, for the newest append time committed,
    /// then on from the tail for as long as entries follow whose checksum holds and that were appended no earlier than
    /// that. A recycled segment (<see cref="SegmentFileDevice"/>) still holds an earlier lap's entries beyond what was
    /// written since; those were appended before anything committed since, which tells them apart. Other bytes after
    /// the tail (a write cut short, or an earlier lap's) end the walk; recovery discards them either way.
    /// </summary>
    private static void ReportTornTail(BufferLane lane, string basePath, int segmentSizeBits, int pageSizeBits, ILogger logger)
    {
        var tail = lane.Log.CommittedUntilAddress;
        if (tail <= FirstAddress)
        {
            return;
        }

        using var files = new SegmentFiles(basePath, segmentSizeBits);
        var address = Math.Max(FirstAddress, ((tail - 1) >> pageSizeBits) << pageSizeBits);
        var newestCommitted = long.MinValue;
        while (TryReadEntry(lane, files, pageSizeBits, tail, ref address, out var appendedAtMs))
        {
            newestCommitted = Math.Max(newestCommitted, appendedAtMs);
        }

        if (address != tail || newestCommitted == long.MinValue)
        {
            // Nothing committed left on disk to compare with (the lane's last entry was in a segment already removed).
            return;
        }

        long entries = 0;
        while (TryReadEntry(lane, files, pageSizeBits, long.MaxValue, ref address, out var appendedAtMs) && appendedAtMs >= newestCommitted)
        {
            entries++;
        }

        if (entries > 0)
        {
            BufferLog.TornTailDiscarded(logger, lane.Name, entries, address - tail, tail);
        }
    }

    /// <summary>FASTER's first log address (the log begins there, not at 0).</summary>
    private const long FirstAddress = 64;

    /// <summary>
    /// Reads the entry at <paramref name="address"/> from the segment files (moving to the next page when the rest of
    /// the page is FASTER's zero padding) and advances <paramref name="address"/> past it; false when there is no
    /// readable entry there or it would begin at or after <paramref name="limit"/>, with <paramref name="address"/>
    /// unchanged (or at <paramref name="limit"/> when padding runs up to it).
    /// </summary>
    private static bool TryReadEntry(BufferLane lane, SegmentFiles files, int pageSizeBits, long limit, ref long address, out long appendedAtMs)
    {
        appendedAtMs = 0;
        var pageSize = 1L << pageSizeBits;
        Span<byte> header = stackalloc byte[BufferLane.EntryHeaderBytes];
        var at = address;
        for (var jumped = false; at < limit; jumped = true)
        {
            var left = pageSize - (at & (pageSize - 1));
            var length = left >= header.Length && files.Read(at, header) ? BinaryPrimitives.ReadInt32LittleEndian(header[8..]) : 0;
            if (length > 0 && BufferLane.EntrySize(length) <= left)
            {
                var payload = new byte[length];
                if (!files.Read(at + header.Length, payload))
                {
                    return false;
                }

                var next = at + BufferLane.EntrySize(length);
                try
                {
                    appendedAtMs = lane.Decode(payload, length, at, next).AppendedAtMs;
                }
                catch (BufferCorruptionException)
                {
                    return false;
                }

                address = next;
                return true;
            }

            if (length != 0 || jumped || left == pageSize)
            {
                return false;
            }

            at += left;
            if (at == limit)
            {
                // Padding up to the limit itself: the reader has come to it (a commit can fall on a page start).
                address = at;
            }
        }

        return false;
    }

    /// <summary>Positional reads of a lane's segment files by log address, each file opened once.</summary>
    private sealed class SegmentFiles(string basePath, int segmentSizeBits) : IDisposable
    {
        private readonly Dictionary<long, SafeFileHandle?> _open = [];

        public bool Read(long address, Span<byte> destination)
        {
            var segment = address >> segmentSizeBits;
            var offset = address & ((1L << segmentSizeBits) - 1);
            if (offset + destination.Length > 1L << segmentSizeBits)
            {
                return false;
            }

            if (!_open.TryGetValue(segment, out var handle))
            {
                var path = SegmentFileDevice.SegmentPath(basePath, segment);
                handle = File.Exists(path) ? File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete) : null;
                _open[segment] = handle;
            }

            return handle is not null && RandomAccess.Read(handle, destination, offset) == destination.Length;
        }

        public void Dispose()
        {
            foreach (var handle in _open.Values)
            {
                handle?.Dispose();
            }
        }
    }
}
