using System.Collections.Concurrent;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class FaultTests : BufferTestBase
{
    [Fact]
    public async Task Open_EntriesWrittenAfterTheLastCommit_RecoversExactlyTheCommittedRecordsAndLogsTheTornTail()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await AppendAsync(buffer.Lane("critical"), 0, 100);
            await buffer.WhenDurableAsync();
        }

        // A torn tail as a crash between a flush and its commit leaves it: 50 whole entries after the last commit.
        await WithCommitsRolledBackAsync(Path.Combine(Dir, "lanes", "critical"), async () =>
        {
            await using var buffer = DurableBuffer.Open(options);
            await AppendAsync(buffer.Lane("critical"), 100, 50);
            await buffer.WhenDurableAsync();
        });

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
        Assert.Contains(logs.Messages, m => m.Contains("critical: discarded 50 entries", StringComparison.Ordinal));

        // New appends go after the committed tail and read back normally.
        await reopened.Lane("critical").AppendAsync(Rec(100));
        await reopened.WhenDurableAsync();
        Assert.Equal(Enumerable.Range(0, 101).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Open_GarbageWrittenAfterTheLastCommit_RecoversExactlyTheCommittedRecords()
    {
        var options = Options(Dir);
        long committedTail;
        await using (var buffer = DurableBuffer.Open(options))
        {
            await AppendAsync(buffer.Lane("critical"), 0, 100);
            await buffer.WhenDurableAsync();
            committedTail = buffer.Lane("critical").CommittedUntilAddress;
        }

        // Bytes that are no entry after the committed tail (a write cut short, or a recycled segment's earlier lap).
        var segment = Path.Combine(Dir, "lanes", "critical", "log.0");
        await using (var fs = new FileStream(segment, FileMode.Open, FileAccess.Write))
        {
            fs.Position = committedTail + 64;
            fs.Write(Enumerable.Range(0, 3000).Select(i => (byte)(i * 7 + 1)).ToArray());
        }

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("discarded", StringComparison.Ordinal));
        await reopened.Lane("critical").AppendAsync(Rec(100));
        await reopened.WhenDurableAsync();
        Assert.Equal(101, ReadAll(reopened.Lane("critical")).Count);
    }

    [Fact]
    public async Task Open_CommittedEntryCorrupted_IsDetectedAndNeverSilentlySkipped()
    {
        var options = Options(Dir);
        long victim;
        await using (var buffer = DurableBuffer.Open(options))
        {
            var lane = buffer.Lane("critical");
            for (var i = 0; i < 50; i++)
            {
                await lane.AppendAsync(Rec(i));
            }

            victim = (await lane.AppendAsync(Rec(50))).Address;
            for (var i = 51; i < 60; i++)
            {
                await lane.AppendAsync(Rec(i));
            }

            await buffer.WhenDurableAsync();
        }

        var segment = Path.Combine(Dir, "lanes", "critical", "log.0");
        await using (var fs = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            fs.Position = victim + BufferLane.EntryHeaderBytes + 40;
            var b = fs.ReadByte();
            fs.Position--;
            fs.WriteByte((byte)(b ^ 0xFF));
        }

        // Either recovery refuses the directory, or it falls back to the last commit before the corrupt entry and says
        // so; in no case may record 50 be skipped while later records are returned.
        var logs = new CapturingLoggerFactory();
        try
        {
            await using var reopened = DurableBuffer.Open(options, logs);
            var offsets = ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset).ToList();
            Assert.Equal(Enumerable.Range(0, offsets.Count).Select(i => (long)i), offsets);
            Assert.True(offsets.Count <= 50, $"corrupt entry 50 was returned or skipped: read {offsets.Count} records");
            Assert.Contains(logs.Messages, m => m.Contains("discarded", StringComparison.Ordinal));
        }
        catch (BufferCorruptionException e)
        {
            Assert.Contains("critical", e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Append_LogMemoryFullOfUnwrittenPages_WaitsWithoutBlockingItsCallerAndCompletesWhenTheDiskCatchesUp()
    {
        // 4 pages of 64 KiB in memory (BufferTestBase): with the disk holding every write, about 190 records of 1 KB fit.
        var options = Options(Dir);
        var criticalDevice = GateLanes(options);

        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("critical");
        var device = criticalDevice();
        device.Hold();
        Task<AppendResult>? waiting = null;
        var accepted = 0;
        try
        {
            for (var i = 0; i < 2_000 && waiting is null; i++)
            {
                // On another thread: an append that blocked its caller until the flush (FasterLog.Enqueue spins) would
                // never hand back its task, and this wait would time out.
                var offset = i;
                var call = Task.Factory.StartNew(() => lane.AppendAsync(Rec(offset, valueBytes: 1000)).AsTask(), CancellationToken.None, TaskCreationOptions.None, TaskScheduler.Default);
                var append = await call.WaitAsync(TimeSpan.FromSeconds(10));
                if (await Task.WhenAny(append, Task.Delay(TimeSpan.FromSeconds(2))) == append)
                {
                    Assert.Equal(AppendStatus.Accepted, (await append).Status);
                    accepted++;
                }
                else
                {
                    waiting = append;
                }
            }

            Assert.NotNull(waiting);
            Assert.InRange(accepted, 100, 300);
            Assert.True(device.HeldWrites > 0, "the append waits for held page writes");
        }
        finally
        {
            // Also when an assertion failed: the buffer can only be disposed once its writes went through.
            device.Release();
        }

        Assert.Equal(AppendStatus.Accepted, (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).Status);
        await buffer.WhenDurableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(Enumerable.Range(0, accepted + 1).Select(i => (long)i), ReadAll(lane).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Commit_DeviceWriteFails_BufferFaultsStickilyWithOneTypedException()
    {
        var options = Options(Dir);
        var devices = new ConcurrentBag<FaultyDevice>();
        options.WrapDevice = device =>
        {
            var d = new FaultyDevice(device);
            devices.Add(d);
            return d;
        };

        var buffer = DurableBuffer.Open(options);
        await buffer.Lane("critical").AppendAsync(Rec(0));
        await buffer.WhenDurableAsync();
        foreach (var d in devices)
        {
            d.Fail = true;
        }

        await buffer.Lane("critical").AppendAsync(Rec(1));
        await Assert.ThrowsAsync<BufferFaultedException>(async () => await buffer.WhenDurableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(buffer.IsFaulted);
        await Assert.ThrowsAsync<BufferFaultedException>(async () => await buffer.Lane("bulk").AppendAsync(Rec(2)));
        Assert.Throws<BufferFaultedException>(() => buffer.Lane("critical").Reader.Read(10, long.MaxValue));
        await Assert.ThrowsAsync<BufferFaultedException>(async () => await buffer.WhenDurableAsync());
        foreach (var d in devices)
        {
            d.Fail = false;
        }

        await buffer.DisposeAsync();

        // After a restart the buffer is back at its last commit.
        await using var reopened = DurableBuffer.Open(Options(Dir));
        Assert.Equal([0L], ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
    }

    /// <summary>
    /// The disk fills up while commit metadata is written (chaos disk-full-6 lost a whole lane that way with FASTER's
    /// own commit manager, which ignores the failed write and deletes the previous commit): the buffer faults, nothing
    /// of the failed commit is acknowledged, and a restart returns everything committed before.
    /// </summary>
    [Fact]
    public async Task Commit_MetadataWriteFailsLikeAFullDisk_BufferFaultsAndRestartKeepsEverythingCommittedBefore()
    {
        var options = Options(Dir);
        var managers = new ConcurrentDictionary<string, LaneCommitManager>();
        options.CommitManagerCreated = (lane, m) => managers[lane] = m;
        var buffer = DurableBuffer.Open(options);
        for (var i = 0; i < 100; i++)
        {
            await buffer.Lane("critical").AppendAsync(Rec(i));
        }

        await buffer.WhenDurableAsync();
        foreach (var m in managers.Values)
        {
            m.WriteSlotForTests = (_, _) => throw new IOException("No space left on device");
        }

        await buffer.Lane("critical").AppendAsync(Rec(100));
        await Assert.ThrowsAsync<BufferFaultedException>(async () => await buffer.WhenDurableAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(buffer.IsFaulted);
        Assert.Contains("No space left on device", buffer.FaultException!.ToString(), StringComparison.Ordinal);
        await buffer.DisposeAsync();

        await using var reopened = DurableBuffer.Open(Options(Dir));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Open_EveryCommitFileUnreadable_RefusesInsteadOfStartingTheLaneEmpty()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await buffer.Lane("critical").AppendAsync(Rec(0));
            await buffer.WhenDurableAsync();
        }

        foreach (var f in Directory.EnumerateFiles(Path.Combine(Dir, "lanes", "critical", "commits"), "slot.*"))
        {
            await File.WriteAllBytesAsync(f, [1, 2, 3]);
        }

        var e = Assert.Throws<BufferCorruptionException>(() => DurableBuffer.Open(options));
        Assert.Contains("lane 'critical': none of its", e.Message, StringComparison.Ordinal);
        Assert.Contains("refusing to open it empty", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_NewestCommitFileTorn_RecoversFromThePreviousCommitAndSaysSo()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            for (var i = 0; i < 10; i++)
            {
                await buffer.Lane("critical").AppendAsync(Rec(i));
                await buffer.WhenDurableAsync();
            }
        }

        // A crash while the newest commit was being written into its slot: only the start of the record reached the disk.
        var newest = Directory.EnumerateFiles(Path.Combine(Dir, "lanes", "critical", "commits"), "slot.*")
            .OrderByDescending(f => System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(f).AsSpan(4))).First();
        var bytes = await File.ReadAllBytesAsync(newest);
        var torn = new byte[bytes.Length];
        bytes.AsSpan(0, 24).CopyTo(torn);
        await File.WriteAllBytesAsync(newest, torn);

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        var offsets = ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset).ToList();
        Assert.Equal(Enumerable.Range(0, offsets.Count).Select(i => (long)i), offsets);
        Assert.InRange(offsets.Count, 9, 10);
        Assert.Contains(logs.Messages, m => m.Contains("could not be read", StringComparison.Ordinal) && m.Contains("critical", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(50, null)]
    [InlineData(250, "Debug: Commit round of 1 lane(s) took 250 ms")]
    [InlineData(1500, "Warning: Commit round of 1 lane(s) took 1500 ms: the disk is slow")]
    public async Task CommitRound_DiskHoldsTheWrite_LogsHowLongItTookFromAThreshold(int heldMs, string? expected)
    {
        // The round's time is the buffer's clock (fake here): the held write spans exactly the time advanced.
        var options = Options(Dir);
        var criticalDevice = GateLanes(options);
        var logs = new CapturingLoggerFactory();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var buffer = DurableBuffer.Open(options, logs, time);
        var lane = buffer.Lane("critical");
        await lane.AppendAsync(Rec(0));
        await buffer.WhenDurableAsync();

        var device = criticalDevice();
        device.Hold();
        await lane.AppendAsync(Rec(1));
        var durable = buffer.WhenDurableAsync().AsTask();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (device.HeldWrites == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Yield();
            await Task.Delay(5);
        }

        Assert.True(device.HeldWrites > 0, "the commit's write reached the device");
        time.Advance(TimeSpan.FromMilliseconds(heldMs));
        device.Release();
        await durable.WaitAsync(TimeSpan.FromSeconds(10));
        // The data is durable before its round ends and logs its time; a whole further round means that one ended.
        await buffer.CommitNowAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

        var rounds = logs.Messages.Where(m => m.Contains("Commit round", StringComparison.Ordinal)).ToList();
        if (expected is null)
        {
            Assert.Empty(rounds);
        }
        else
        {
            Assert.Single(rounds, m => m.StartsWith(expected, StringComparison.Ordinal));
        }
    }

    /// <summary>Gives every lane a <see cref="GatedDevice"/>; the function returns the critical lane's once the buffer opened it.</summary>
    private static Func<GatedDevice> GateLanes(BufferOptions options)
    {
        GatedDevice? critical = null;
        options.WrapDevice = device =>
        {
            var d = new GatedDevice(device);
            if (device.FileName.Contains("critical", StringComparison.Ordinal))
            {
                critical = d;
            }

            return d;
        };
        return () => critical ?? throw new InvalidOperationException("the buffer has not opened the critical lane's device");
    }

    /// <summary>A device whose writes can be held back (a disk that stopped keeping up) and released later, in order.</summary>
    private sealed class GatedDevice(IDevice inner) : WrappedDevice(inner)
    {
        private readonly Lock _gate = new();
        private List<Action>? _held;

        public int HeldWrites
        {
            get
            {
                lock (_gate)
                {
                    return _held?.Count ?? 0;
                }
            }
        }

        public void Hold()
        {
            lock (_gate)
            {
                _held ??= [];
            }
        }

        public void Release()
        {
            List<Action>? held;
            lock (_gate)
            {
                held = _held;
                _held = null;
            }

            foreach (var write in held ?? [])
            {
                write();
            }
        }

        public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context)
        {
            lock (_gate)
            {
                if (_held is not null)
                {
                    _held.Add(() => base.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context));
                    return;
                }
            }

            base.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context);
        }
    }

    private sealed class FaultyDevice(IDevice inner) : WrappedDevice(inner)
    {
        public volatile bool Fail;

        public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context)
        {
            if (Fail)
            {
                callback(5, 0, context); // EIO
                return;
            }

            base.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context);
        }
    }

    /// <summary>Passes everything to a real device; the subclasses change what a write does.</summary>
    private abstract class WrappedDevice(IDevice inner) : StorageDeviceBase(inner.FileName, inner.SectorSize, inner.Capacity)
    {
        public override void Initialize(long segmentSize, LightEpoch? epoch = null, bool omitSegmentIdFromFilename = false)
        {
            base.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);
            inner.Initialize(segmentSize, epoch, omitSegmentIdFromFilename);
        }

        public override void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context) =>
            inner.ReadAsync(segmentId, sourceAddress, destinationAddress, readLength, callback, context);

        public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context) =>
            inner.WriteAsync(sourceAddress, segmentId, destinationAddress, numBytesToWrite, callback, context);

        public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result) => inner.RemoveSegmentAsync(segment, callback, result);

        public override long GetFileSize(int segment) => inner.GetFileSize(segment);

        public override void Dispose() => inner.Dispose();
    }
}

/// <summary>Collects formatted log messages for assertions.</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory
{
    public ConcurrentQueue<string> Messages { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Messages.Enqueue($"{logLevel}: {formatter(state, exception)}");
    }
}
