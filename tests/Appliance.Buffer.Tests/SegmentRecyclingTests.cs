using System.Runtime.InteropServices;
using FASTER.core;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class SegmentRecyclingTests : BufferTestBase
{
    private const int SegmentBytes = 1 << 20; // BufferTestBase: SegmentSizeBits = 20

    [Fact]
    public void Device_RemovedSegments_BecomeSparesUpToTheLimitAndTheNextNewSegmentIsOneOfThem()
    {
        var basePath = Path.Combine(Dir, "log");
        var pool = new SparePool(maxSpares: 2, capacityFiles: 1024);
        using (var device = OpenDevice(basePath, pool))
        {
            for (var segment = 0; segment < 4; segment++)
            {
                Write(device, segment, 0, Pattern((byte)(segment + 1), 8192));
            }

            device.RemoveSegment(0);
            device.RemoveSegment(1);
            device.RemoveSegment(2);
            Assert.Equal(2, pool.Count);
            Assert.Equal(1, pool.LiveFiles);
            Assert.Equal(["log.3", "log.spare.0", "log.spare.1"], Files());

            // Segment 4 is written at its start only: the rest of the file is segment 0's old bytes, so it is that file.
            Write(device, 4, 0, Pattern(9, 4096));
            Assert.Equal(1, device.RecycledSegments);
            Assert.Equal(["log.3", "log.4", "log.spare.1"], Files());
            var bytes = File.ReadAllBytes(basePath + ".4");
            Assert.Equal(8192, bytes.Length);
            Assert.All(bytes[..4096], b => Assert.Equal(9, b));
            Assert.All(bytes[4096..], b => Assert.Equal(1, b));
        }

        // A reopened device finds its segments and its spare, and uses the spare for the next new segment.
        pool = new SparePool(maxSpares: 2, capacityFiles: 1024);
        using (var device = OpenDevice(basePath, pool))
        {
            Assert.Equal(3, device.StartSegment);
            Assert.Equal(4, device.EndSegment);
            Assert.Equal(1, pool.Count);
            Assert.Equal(2, pool.LiveFiles);
            Write(device, 5, 0, Pattern(7, 512));
            Assert.Equal(1, device.RecycledSegments);
            Assert.Equal(["log.3", "log.4", "log.5"], Files());
            Assert.Equal(8192, new FileInfo(basePath + ".5").Length);
        }
    }

    [Fact]
    public void Device_WithoutSpares_DeletesRemovedSegmentsAndReadsDoNotTakeASpare()
    {
        var basePath = Path.Combine(Dir, "log");
        using (var device = OpenDevice(basePath, new SparePool(maxSpares: 0, capacityFiles: 1024)))
        {
            Write(device, 0, 0, Pattern(1, 4096));
            device.RemoveSegment(0);
            Assert.Empty(Files());
        }

        var pool = new SparePool(maxSpares: 1, capacityFiles: 1024);
        using (var device = OpenDevice(basePath, pool))
        {
            Write(device, 0, 0, Pattern(1, 4096));
            Write(device, 1, 0, Pattern(2, 4096));
            device.RemoveSegment(0);
            Assert.Equal(1, pool.Count);

            // Reading a segment that was never written finds nothing there and leaves the spare alone.
            var read = Read(device, 7, 0, 4096);
            Assert.Empty(read);
            Assert.Equal(1, pool.Count);
            Assert.Equal(["log.1", "log.spare.0"], Files());

            // A write and a read at an offset come back byte for byte.
            Write(device, 1, 8192, Pattern(5, 1024));
            Assert.Equal(Pattern(5, 1024), Read(device, 1, 8192, 1024));
            Assert.Equal(Pattern(2, 4096), Read(device, 1, 0, 4096));
        }
    }

    [Fact]
    public void Pool_OneLanesSpare_IsAnotherLanesNextSegment()
    {
        var pool = new SparePool(maxSpares: 4, capacityFiles: 1024);
        var a = Path.Combine(Dir, "a", "log");
        var b = Path.Combine(Dir, "b", "log");
        using var laneA = OpenDevice(a, pool);
        using var laneB = OpenDevice(b, pool);
        Write(laneA, 0, 0, Pattern(1, 8192));
        laneA.RemoveSegment(0);
        Assert.Equal(1, pool.Count);

        Write(laneB, 0, 0, Pattern(2, 4096));
        Assert.Equal(1, laneB.RecycledSegments);
        Assert.Equal(0, pool.Count);
        Assert.Empty(Directory.GetFiles(Path.Combine(Dir, "a")));
        var bytes = File.ReadAllBytes(b + ".0");
        Assert.Equal(8192, bytes.Length);
        Assert.All(bytes[4096..], x => Assert.Equal(1, x));
    }

    [Fact]
    public void Pool_SegmentFilesInUseAndSpare_StayWithinTheBudget()
    {
        // A budget of 4 segment files: in use and spare together never more, however high the count limit.
        var pool = new SparePool(maxSpares: 64, capacityFiles: 4);
        var basePath = Path.Combine(Dir, "log");
        using (var device = OpenDevice(basePath, pool))
        {
            for (var segment = 0; segment < 5; segment++)
            {
                Write(device, segment, 0, Pattern(1, 4096));
            }

            Assert.Equal(5, pool.LiveFiles);
            device.RemoveSegment(0);
            Assert.Equal(0, pool.Count); // 4 in use: no room for a spare beside them
            device.RemoveSegment(1);
            device.RemoveSegment(2);
            device.RemoveSegment(3);
            Assert.Equal(3, pool.Count); // 1 in use + 3 spares
            Assert.Equal(1, pool.LiveFiles);
            Assert.Equal(["log.4", "log.spare.0", "log.spare.1", "log.spare.2"], Files());
        }

        // Reopened with a lower limit, the spares beyond it are deleted.
        pool = new SparePool(maxSpares: 1, capacityFiles: 4);
        using (OpenDevice(basePath, pool))
        {
            Assert.Equal(1, pool.Count);
            Assert.Equal(["log.4", "log.spare.0"], Files());
        }
    }

    [Fact]
    public unsafe void Device_WriteAfterDispose_ReportsAnErrorToItsCallbackInsteadOfThrowing()
    {
        var device = OpenDevice(Path.Combine(Dir, "log"), new SparePool(maxSpares: 1, capacityFiles: 1024));
        device.Dispose();
        var memory = NativeMemory.AlignedAlloc(512, 512);
        try
        {
            uint error = 0;
            device.WriteAsync((IntPtr)memory, 0, 0, 512, (e, _, _) => error = e, device);
            Assert.NotEqual(0u, error);
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }

    [Fact]
    public async Task Lane_DeliveredSegmentsAreReused_RecoveryReturnsExactlyTheUndeliveredRecordsAndReportsNoTornTail()
    {
        var options = Options(Dir);
        var laneDir = Path.Combine(Dir, "lanes", "critical");
        long tail;
        await using (var buffer = DurableBuffer.Open(options))
        {
            await LapAsync(buffer);
            tail = buffer.Lane("critical").CommittedUntilAddress;
        }

        // The tail's segment is a recycled file: whole-size, with an earlier lap's bytes after what this lap wrote.
        var tailSegment = Path.Combine(laneDir, $"log.{tail >> options.SegmentSizeBits}");
        var bytes = File.ReadAllBytes(tailSegment);
        Assert.Equal(SegmentBytes, bytes.Length);
        var tailOffset = (int)(tail & (SegmentBytes - 1));
        Assert.Contains(bytes[(tailOffset + 4096)..], b => b != 0);
        Assert.InRange(Directory.GetFiles(laneDir, "log.spare.*").Length, 0, options.SpareSegments);

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        var lane = reopened.Lane("critical");
        Assert.Equal(Enumerable.Range(3000, 2000).Select(i => (long)i), ReadAll(lane).Select(e => e.Record!.Source.Offset));
        Assert.DoesNotContain(logs.Messages, m => m.Contains("discarded", StringComparison.Ordinal));

        await AppendAsync(lane, 5000, 500, valueBytes: 1000);
        await reopened.WhenDurableAsync();
        Assert.Equal(Enumerable.Range(3000, 2500).Select(i => (long)i), ReadAll(lane).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Lane_TornTailInARecycledSegment_CountsOnlyTheEntriesWrittenAfterTheLastCommit()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await LapAsync(buffer);
        }

        await WithCommitsRolledBackAsync(Path.Combine(Dir, "lanes", "critical"), async () =>
        {
            await using var buffer = DurableBuffer.Open(options);
            await AppendAsync(buffer.Lane("critical"), 5000, 40, valueBytes: 1000);
            await buffer.WhenDurableAsync();
        });

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        Assert.Equal(Enumerable.Range(3000, 2000).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
        Assert.Contains(logs.Messages, m => m.Contains("critical: discarded 40 entries", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lane_TornTailBeginningExactlyAtAPageStart_IsCounted()
    {
        // Entries of exactly 4 KiB: 15 fill the first 64 KiB page (it begins at address 64, so the 16th does not fit
        // and goes to the next page), 16 fill the second exactly, so after 31 the committed tail is the third page's start.
        var options = Options(Dir);
        const int PageBytes = 1 << 16; // BufferTestBase: PageSizeBits = 16
        int valueBytes;
        await using (var probe = DurableBuffer.Open(Options(Path.Combine(Dir, "probe"))))
        {
            var r = await probe.Lane("critical").AppendAsync(Fixed(0, 4000));
            await probe.WhenDurableAsync();
            var entry = ReadAll(probe.Lane("critical"))[0];
            valueBytes = 4000 + (4096 - (int)(entry.NextAddress - entry.Address));
        }

        await using (var buffer = DurableBuffer.Open(options))
        {
            for (var i = 0; i < 31; i++)
            {
                await buffer.Lane("critical").AppendAsync(Fixed(i, valueBytes));
            }

            await buffer.WhenDurableAsync();
            Assert.Equal(2L * PageBytes, buffer.Lane("critical").CommittedUntilAddress);
        }

        await WithCommitsRolledBackAsync(Path.Combine(Dir, "lanes", "critical"), async () =>
        {
            await using var buffer = DurableBuffer.Open(options);
            for (var i = 31; i < 36; i++)
            {
                await buffer.Lane("critical").AppendAsync(Fixed(i, valueBytes));
            }

            await buffer.WhenDurableAsync();
        });

        var logs = new CapturingLoggerFactory();
        await using var reopened = DurableBuffer.Open(options, logs);
        Assert.Equal(Enumerable.Range(0, 31).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
        Assert.True(logs.Messages.Any(m => m.Contains("critical: discarded 5 entries (20480 bytes)", StringComparison.Ordinal)), string.Join("\n", logs.Messages));

        static Appliance.Core.Records.EdgeRecord Fixed(long offset, int valueBytes) =>
            new(new Appliance.Core.Records.SourcePosition("sensors", 0, offset), 1_700_000_000_000 + offset, null, new byte[valueBytes], [], destinationTopic: null);
    }

    [Fact]
    public async Task Buffer_Disposed_ClosesEverySegmentFile()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await LapAsync(buffer);
            Assert.NotEmpty(OpenFilesUnder(Dir));
        }

        // The lanes' log devices are the buffer's to close (FASTER's log does not dispose its device): no descriptor of
        // this process may still point at a segment file, or each reopening of a buffer would keep its files open.
        Assert.Empty(OpenFilesUnder(Dir));
    }

    /// <summary>The files under <paramref name="dir"/> that this process has open, from <c>/proc/self/fd</c>.</summary>
    private static List<string> OpenFilesUnder(string dir)
    {
        var root = Path.GetFullPath(dir) + Path.DirectorySeparatorChar;
        var open = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(root, StringComparison.Ordinal))
                {
                    open.Add(target);
                }
            }
            catch (IOException)
            {
                // The descriptor was closed while the directory was listed.
            }
        }

        return open;
    }

    /// <summary>
    /// About 3 MiB appended and delivered (segments 0-2 become spares or are deleted), then about 2 MiB more that
    /// stay buffered, written into recycled segments.
    /// </summary>
    private static async Task LapAsync(DurableBuffer buffer)
    {
        var lane = buffer.Lane("critical");
        await AppendAsync(lane, 0, 3000, valueBytes: 1000);
        await buffer.WhenDurableAsync();
        await DeliverAllAsync(lane);
        await buffer.CommitNowAsync();

        // The next lap's entries are appended at least a few milliseconds later than the first lap's (their append
        // time is how recovery tells an earlier lap from a torn tail); poll the clock rather than sleep.
        var after = DateTimeOffset.UtcNow.AddMilliseconds(5);
        SpinWait.SpinUntil(() => DateTimeOffset.UtcNow > after, TimeSpan.FromSeconds(5));
        await AppendAsync(lane, 3000, 2000, valueBytes: 1000);
        await buffer.WhenDurableAsync();
    }

    private List<string> Files() => [.. Directory.GetFiles(Dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).Select(f => f!)];

    private static SegmentFileDevice OpenDevice(string basePath, SparePool pool)
    {
        var device = new SegmentFileDevice(basePath, pool);
        device.Initialize(SegmentBytes, new LightEpoch());
        return device;
    }

    private static byte[] Pattern(byte value, int length) => Enumerable.Repeat(value, length).ToArray();

    private static unsafe void Write(SegmentFileDevice device, int segment, ulong offset, byte[] data)
    {
        var memory = NativeMemory.AlignedAlloc((nuint)data.Length, 512);
        try
        {
            data.CopyTo(new Span<byte>(memory, data.Length));
            using var done = new ManualResetEventSlim();
            uint error = 0;
            device.WriteAsync((IntPtr)memory, segment, offset, (uint)data.Length, (e, _, _) => { error = e; done.Set(); }, done);
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)), "the write completed");
            Assert.Equal(0u, error);
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }

    private static unsafe byte[] Read(SegmentFileDevice device, int segment, ulong offset, int length)
    {
        var memory = NativeMemory.AlignedAlloc((nuint)length, 512);
        try
        {
            using var done = new ManualResetEventSlim();
            uint error = 0, read = 0;
            device.ReadAsync(segment, offset, (IntPtr)memory, (uint)length, (e, n, _) => { error = e; read = n; done.Set(); }, done);
            Assert.True(done.Wait(TimeSpan.FromSeconds(10)), "the read completed");
            Assert.Equal(0u, error);
            return new Span<byte>(memory, (int)read).ToArray();
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
    }
}
