using System.Buffers.Binary;
using System.IO.Hashing;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class LaneCommitManagerTests : BufferTestBase
{
    private string Legacy => Path.Combine(Dir, "log-commits");

    private string Slot(int i) => Path.Combine(Dir, $"slot.{i}");

    private LaneCommitManager NewManager() => new(Dir);

    [Fact]
    public void New_CreatesTwoZeroedSlotsOfOneBlock_AndNoCommit()
    {
        using var m = NewManager();
        Assert.Equal(0, m.FilesAtOpen);
        Assert.Empty(m.ListCommits());
        for (var i = 0; i < 2; i++)
        {
            var bytes = File.ReadAllBytes(Slot(i));
            Assert.Equal(LaneCommitManager.Block, bytes.Length);
            Assert.DoesNotContain(bytes, b => b != 0);
        }
    }

    [Fact]
    public void Commit_ThenRead_ReturnsTheMetadata_FromTheRecordOnDisk()
    {
        using (var m = NewManager())
        {
            m.Commit(64, 128, [1, 2, 3, 4], 1, false);
        }

        var bytes = File.ReadAllBytes(Slot(0));
        Assert.Equal("ACM2"u8.ToArray(), bytes[..4]);
        Assert.Equal(1, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(4)));
        Assert.Equal(4, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(12)));
        Assert.Equal([1, 2, 3, 4], bytes[16..20]);
        Assert.Equal(Crc32.HashToUInt32(bytes.AsSpan(0, 20)), BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)));

        using var reopened = NewManager();
        Assert.Equal(1, reopened.FilesAtOpen);
        Assert.Equal([1L], reopened.ListCommits());
        Assert.Equal([1, 2, 3, 4], reopened.GetCommitMetadata(1));
    }

    [Fact]
    public void Commit_Several_AlternatesTheSlots_KeepingTheNewestAndTheOneBefore_WithoutNewFiles()
    {
        using var m = NewManager();
        for (var n = 1; n <= 5; n++)
        {
            m.Commit(64, 64 * n, [(byte)n], n, false);
        }

        Assert.Equal([5L, 4L], m.ListCommits());
        Assert.Equal([5], m.GetCommitMetadata(5));
        Assert.Equal([4], m.GetCommitMetadata(4));
        Assert.Equal(["slot.0", "slot.1"], Directory.EnumerateFileSystemEntries(Dir).Select(Path.GetFileName).Order());
        Assert.Equal(5, BinaryPrimitives.ReadInt64LittleEndian(File.ReadAllBytes(Slot(0)).AsSpan(4)));
    }

    [Fact]
    public void Commit_MetadataLargerThanABlock_GrowsTheSlotByWholeBlocks()
    {
        using (var m = NewManager())
        {
            var big = Enumerable.Range(0, 5000).Select(i => (byte)i).ToArray();
            m.Commit(64, 128, big, 1, false);
            m.Commit(64, 192, [2], 2, false);
            m.Commit(64, 256, [3], 3, false);
        }

        Assert.Equal(2 * LaneCommitManager.Block, new FileInfo(Slot(0)).Length);

        // The shorter record now in that slot leaves the old bytes behind it; its length and CRC bound it.
        using var reopened = NewManager();
        Assert.Equal([3], reopened.GetCommitMetadata(3));
        Assert.Equal([3L, 2L], reopened.ListCommits());
    }

    [Fact]
    public void Open_NewerSlotTornOrCorrupt_IsNotACommit_AndRecoveryCountsIt()
    {
        using (var m = NewManager())
        {
            m.Commit(64, 128, [9, 9, 9, 9, 9, 9], 1, false);
            m.Commit(64, 192, [7, 7, 7, 7, 7, 7], 2, false);
        }

        var good = File.ReadAllBytes(Slot(1));
        foreach (var damaged in new[] { Torn(good, 10), Torn(good, 21), Flip(good, 18), Flip(good, 5) })
        {
            File.WriteAllBytes(Slot(1), damaged);
            using var reopened = NewManager();
            Assert.Equal(2, reopened.FilesAtOpen);
            Assert.Equal([1L], reopened.ListCommits());
            Assert.Null(reopened.GetCommitMetadata(2));
            reopened.OnRecovery(1);
            Assert.Equal(1, reopened.UnreadableNewer);

            // The next commit overwrites the torn slot, never the one recovered from.
            reopened.Commit(64, 192, [8], 2, false);
            Assert.Equal([2L, 1L], reopened.ListCommits());
            Assert.Equal([9, 9, 9, 9, 9, 9], reopened.GetCommitMetadata(1));
        }
    }

    [Fact]
    public async Task Commit_WriteFails_ThrowsReportsFailureAndKeepsThePreviousCommit()
    {
        using var m = NewManager();
        m.Commit(64, 128, [1], 1, false);
        m.WriteSlotForTests = (_, _) => throw new IOException("Input/output error");
        Assert.Throws<IOException>(() => m.Commit(64, 192, [2], 2, false));
        var failure = await m.Failed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains("Input/output error", failure.Message, StringComparison.Ordinal);
        Assert.Equal([1L], m.ListCommits());
        Assert.Equal([1], m.GetCommitMetadata(1));
    }

    [Fact]
    public void Commit_WriteTornHalfway_LeavesTheOtherSlotAsTheCommit()
    {
        using var m = NewManager();
        m.Commit(64, 128, [1, 1, 1], 1, false);
        m.Commit(64, 192, [2, 2, 2], 2, false);
        m.WriteSlotForTests = (path, record) =>
        {
            // A crash after the start of the record reached the disk: the rest of the older record stays behind it.
            Assert.Equal(Slot(0), path);
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            fs.Write(record, 0, 12);
            throw new IOException("power cut");
        };
        Assert.Throws<IOException>(() => m.Commit(64, 256, [3, 3, 3], 3, false));

        using var reopened = NewManager();
        Assert.Equal([2L], reopened.ListCommits());
        Assert.Equal([2, 2, 2], reopened.GetCommitMetadata(2));
    }

    [Fact]
    public void FormatOneFiles_AreReadAndRemovedOnceBothSlotsHoldNewerCommits()
    {
        Directory.CreateDirectory(Legacy);

        // FASTER's own manager (before 2026-12-01): int32 length, metadata, zero padding to the sector size.
        var faster = new byte[512];
        BinaryPrimitives.WriteInt32LittleEndian(faster, 3);
        faster[4] = 5;
        faster[5] = 6;
        faster[6] = 7;
        File.WriteAllBytes(Path.Combine(Legacy, "commit.6"), faster);

        // Format 1's own: int32 length, metadata, "ACM1", CRC-32 of length and metadata.
        var ours = new byte[4 + 2 + 8];
        BinaryPrimitives.WriteInt32LittleEndian(ours, 2);
        ours[4] = 8;
        ours[5] = 9;
        "ACM1"u8.CopyTo(ours.AsSpan(6));
        BinaryPrimitives.WriteUInt32LittleEndian(ours.AsSpan(10), Crc32.HashToUInt32(ours.AsSpan(0, 6)));
        File.WriteAllBytes(Path.Combine(Legacy, "commit.7"), ours);

        using var m = NewManager();
        Assert.Equal(2, m.FilesAtOpen);
        Assert.Equal([7L, 6L], m.ListCommits());
        Assert.Equal([5, 6, 7], m.GetCommitMetadata(6));
        Assert.Equal([8, 9], m.GetCommitMetadata(7));

        m.OnRecovery(7);
        Assert.Equal([7L], m.ListCommits());
        m.Commit(64, 128, [10], 8, false);
        Assert.Equal([8L, 7L], m.ListCommits());
        m.Commit(64, 192, [11], 9, false);
        Assert.Equal([9L, 8L], m.ListCommits());
        Assert.Empty(Directory.EnumerateFiles(Legacy));
    }

    [Fact]
    public void FormatOneFile_CutShortOrCorrupt_IsNotACommit()
    {
        Directory.CreateDirectory(Legacy);
        var ours = new byte[4 + 2 + 8];
        BinaryPrimitives.WriteInt32LittleEndian(ours, 2);
        "ACM1"u8.CopyTo(ours.AsSpan(6));
        BinaryPrimitives.WriteUInt32LittleEndian(ours.AsSpan(10), Crc32.HashToUInt32(ours.AsSpan(0, 6)));
        var path = Path.Combine(Legacy, "commit.3");
        using var m = NewManager();
        foreach (var damaged in new[] { ours[..5], ours[..6], Flip(ours, 4) })
        {
            File.WriteAllBytes(path, damaged);
            Assert.Null(m.GetCommitMetadata(3));
        }
    }

    [Fact]
    public void OnRecovery_FromASlot_RemovesEveryFormatOneFile()
    {
        Directory.CreateDirectory(Legacy);
        File.WriteAllBytes(Path.Combine(Legacy, "commit.4"), [0, 1]);
        using (var m = NewManager())
        {
            m.Commit(64, 128, [1], 5, false);
        }

        using var reopened = NewManager();
        reopened.OnRecovery(5);
        Assert.Equal(5, reopened.RecoveredCommit);
        Assert.Equal(0, reopened.UnreadableNewer);
        Assert.Empty(Directory.EnumerateFiles(Legacy));
    }

    [Fact]
    public void FileSync_ExistingDirectory_Succeeds_MissingOne_NamesIt()
    {
        FileSync.Directory(Dir);
        var missing = Path.Combine(Dir, "no-such-dir");
        var e = Assert.Throws<IOException>(() => FileSync.Directory(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("errno 2", e.Message, StringComparison.Ordinal);
    }

    private static byte[] Torn(byte[] bytes, int keep)
    {
        var copy = new byte[bytes.Length];
        bytes.AsSpan(0, keep).CopyTo(copy);
        return copy;
    }

    private static byte[] Flip(byte[] bytes, int index)
    {
        var copy = bytes.ToArray();
        copy[index] ^= 0xFF;
        return copy;
    }
}
