using System.Buffers.Binary;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class LaneCommitManagerTests : BufferTestBase
{
    private string Commits => Path.Combine(Dir, "log-commits");

    private LaneCommitManager NewManager() => new(Dir);

    [Fact]
    public void Commit_ThenRead_ReturnsTheMetadata()
    {
        var m = NewManager();
        m.Commit(64, 128, [1, 2, 3, 4], 1, false);
        Assert.Equal([1L], m.ListCommits());
        Assert.Equal([1, 2, 3, 4], m.GetCommitMetadata(1));
    }

    [Fact]
    public void Commit_Several_KeepsTheNewestAndTheOneBefore()
    {
        var m = NewManager();
        for (var n = 1; n <= 5; n++)
        {
            m.Commit(64, 64 * n, [(byte)n], n, false);
        }

        Assert.Equal([5L, 4L], m.ListCommits());
    }

    [Fact]
    public void GetCommitMetadata_TornOrCorruptFile_IsNotACommit()
    {
        var m = NewManager();
        m.Commit(64, 128, [9, 9, 9, 9, 9, 9], 1, false);
        m.Commit(64, 192, [7, 7, 7, 7, 7, 7], 2, false);
        var two = Path.Combine(Commits, "commit.2");
        var bytes = File.ReadAllBytes(two);
        File.WriteAllBytes(two, bytes[..6]);
        Assert.Null(m.GetCommitMetadata(2));

        // Cut right after the metadata, before the trailer: complete-looking, but not trusted.
        File.WriteAllBytes(two, bytes[..10]);
        Assert.Null(m.GetCommitMetadata(2));

        bytes[5] ^= 0xFF;
        File.WriteAllBytes(two, bytes);
        Assert.Null(m.GetCommitMetadata(2));
        Assert.Equal([9, 9, 9, 9, 9, 9], m.GetCommitMetadata(1));
    }

    [Fact]
    public void GetCommitMetadata_FileOfFastersOwnManager_IsRead()
    {
        // Buffers written before this manager: int32 length, metadata, zero padding to the sector size.
        Directory.CreateDirectory(Commits);
        var legacy = new byte[512];
        BinaryPrimitives.WriteInt32LittleEndian(legacy, 3);
        legacy[4] = 5;
        legacy[5] = 6;
        legacy[6] = 7;
        File.WriteAllBytes(Path.Combine(Commits, "commit.7"), legacy);
        Assert.Equal([5, 6, 7], NewManager().GetCommitMetadata(7));
    }

    [Fact]
    public async Task Commit_WriteFails_ThrowsReportsFailureAndKeepsThePreviousCommit()
    {
        var m = NewManager();
        m.Commit(64, 128, [1], 1, false);
        m.OpenForWriteForTests = _ => throw new IOException("No space left on device");
        await AssertNextCommitFailsKeepingThePreviousAsync(m, "No space left");
    }

    [Fact]
    public void Commit_SyncsTheDirectoryOnceTheFileIsWrittenAndBeforeOlderFilesGo()
    {
        var m = NewManager();
        var seen = new List<string[]>();
        m.SyncDirectoryForTests = dir =>
        {
            Assert.Equal(Commits, dir);
            seen.Add([.. m.ListCommits().Select(n => n.ToString(System.Globalization.CultureInfo.InvariantCulture))]);
        };
        m.Commit(64, 128, [1], 1, false);
        m.Commit(64, 192, [2], 2, false);
        m.Commit(64, 256, [3], 3, false);

        // At each sync the new file is there and nothing older has been deleted yet.
        Assert.Equal([["1"], ["2", "1"], ["3", "2", "1"]], seen);
        Assert.Equal([3L, 2L], m.ListCommits());
    }

    [Fact]
    public async Task Commit_DirectorySyncFails_ThrowsAndKeepsThePreviousCommit()
    {
        var m = NewManager();
        m.Commit(64, 128, [1], 1, false);
        m.SyncDirectoryForTests = _ => throw new IOException("fsync of directory failed: Input/output error (errno 5)");
        await AssertNextCommitFailsKeepingThePreviousAsync(m, "errno 5");
    }

    [Fact]
    public void DirectorySync_ExistingDirectory_Succeeds_MissingOne_NamesIt()
    {
        DirectorySync.Flush(Dir);
        var missing = Path.Combine(Dir, "no-such-dir");
        var e = Assert.Throws<IOException>(() => DirectorySync.Flush(missing));
        Assert.Contains(missing, e.Message, StringComparison.Ordinal);
        Assert.Contains("errno 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void OnRecovery_RemovesNewerUnreadableAndOlderFiles()
    {
        var m = NewManager();
        m.Commit(64, 128, [1], 1, false);
        m.Commit(64, 192, [2], 2, false);
        File.WriteAllBytes(Path.Combine(Commits, "commit.3"), [0, 1]);
        var reopened = NewManager();
        Assert.Equal(3, reopened.FilesAtOpen);
        reopened.OnRecovery(2);
        Assert.Equal(2, reopened.RecoveredCommit);
        Assert.Equal(1, reopened.UnreadableNewer);
        Assert.Equal([2L], reopened.ListCommits());
    }

    private static async Task AssertNextCommitFailsKeepingThePreviousAsync(LaneCommitManager m, string reason)
    {
        Assert.Throws<IOException>(() => m.Commit(64, 192, [2], 2, false));
        var failure = await m.Failed.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.Contains(reason, failure.Message, StringComparison.Ordinal);
        Assert.Equal([1L], m.ListCommits());
        Assert.Equal([1], m.GetCommitMetadata(1));
    }
}
