using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using FASTER.core;

namespace Appliance.Buffer;

/// <summary>
/// Where a lane's FasterLog keeps its commit metadata: <c>commits/log-commits/commit.N</c>, one file per commit, in
/// the layout FASTER's own <c>DeviceLogCommitCheckpointManager</c> reads (int32 length, metadata), followed by a
/// trailer (<c>ACM1</c> and a CRC-32 of length and metadata) that FASTER's reader ignores.
/// </summary>
/// <remarks>
/// Replaces FASTER's manager because of how that one fails on a full disk: it logs a failed metadata write and carries
/// on, FASTER then reports the commit as done, and the previous commit file is deleted. After the next restart no
/// commit can be read and FASTER silently opens the lane empty: everything it held, acknowledged upstream, is gone
/// (chaos disk-full-6, 2026-12-01: 1,857 records). Here a write that fails throws (FASTER then never reports that
/// commit; <see cref="Failed"/> lets the buffer fault at once), the previous commit is deleted only once the new one
/// is on disk, and a file that is torn or fails its CRC is never used.
/// </remarks>
internal sealed class LaneCommitManager : ILogCommitManager
{
    private const string Prefix = "commit.";
    private static readonly byte[] Magic = "ACM1"u8.ToArray();
    private readonly string _dir;
    private readonly TaskCompletionSource<Exception> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _previous = -1;
    private long _beforePrevious = -1;

    /// <summary>Creates the manager for a lane's <c>commits</c> directory.</summary>
    public LaneCommitManager(string commitsDirectory)
    {
        _dir = Path.Combine(commitsDirectory, "log-commits");
        Directory.CreateDirectory(_dir);
        FilesAtOpen = ListCommits().Count();
    }

    /// <summary>Completes (with the error) when a commit could not be written; FASTER never completes that commit.</summary>
    public Task<Exception> Failed => _failed.Task;

    /// <summary>Commit files present when the lane was opened.</summary>
    public int FilesAtOpen { get; }

    /// <summary>The commit FASTER recovered from, or null when it could use none.</summary>
    public long? RecoveredCommit { get; private set; }

    /// <summary>Commit files that were newer than the recovered one but unreadable (torn by a crash mid-write).</summary>
    public int UnreadableNewer { get; private set; }

    /// <summary>Test seam: opens a commit file for writing (e.g. to fail like a full disk).</summary>
    internal Func<string, Stream>? OpenForWriteForTests { get; set; }

    /// <summary>Test seam: syncs the commit directory after a commit file was written.</summary>
    internal Action<string>? SyncDirectoryForTests { get; set; }

    /// <inheritdoc />
    public void Commit(long beginAddress, long untilAddress, byte[] commitMetadata, long commitNum, bool forceWriteMetadata)
    {
        ArgumentNullException.ThrowIfNull(commitMetadata);
        var path = PathOf(commitNum);
        try
        {
            var bytes = new byte[4 + commitMetadata.Length + Magic.Length + 4];
            BinaryPrimitives.WriteInt32LittleEndian(bytes, commitMetadata.Length);
            commitMetadata.CopyTo(bytes, 4);
            Magic.CopyTo(bytes, 4 + commitMetadata.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(bytes.Length - 4), Crc32.HashToUInt32(bytes.AsSpan(0, 4 + commitMetadata.Length)));
            // Write-through (O_DSYNC): the call returns once the bytes and the file size are on disk.
            using (var fs = OpenForWriteForTests?.Invoke(path) ?? new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.WriteThrough))
            {
                fs.Write(bytes);
                fs.Flush();
            }

            // And the directory entry that names the new file, before the commit counts and older files go.
            (SyncDirectoryForTests ?? DirectorySync.Flush)(_dir);
        }
        catch (Exception e)
        {
            TryDelete(path);
            _failed.TrySetResult(e);
            throw;
        }

        // The new commit is durable: the one before it is kept as a fallback, the one before that goes. (Recovery
        // removed everything older; a file whose deletion failed stays until the next recovery.)
        if (_beforePrevious >= 0)
        {
            TryDelete(PathOf(_beforePrevious));
        }

        _beforePrevious = _previous;
        _previous = commitNum;
    }

    /// <inheritdoc />
    public byte[]? GetCommitMetadata(long commitNum)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(PathOf(commitNum));
        }
        catch (IOException)
        {
            return null;
        }

        if (bytes.Length < 4)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        if (length <= 0 || bytes.Length - 4 < length)
        {
            return null;
        }

        var end = 4 + length;
        if (bytes.Length >= end + Magic.Length + 4 && bytes.AsSpan(end, Magic.Length).SequenceEqual(Magic))
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end + Magic.Length)) != Crc32.HashToUInt32(bytes.AsSpan(0, end)))
            {
                return null;
            }
        }
        else if (bytes.Length % 512 != 0 || bytes.AsSpan(end).ContainsAnyExcept((byte)0))
        {
            // Neither our trailer nor a file of FASTER's own manager (zero padding to whole sectors): not a commit
            // (e.g. one of ours cut short before its trailer).
            return null;
        }

        return bytes.AsSpan(4, length).ToArray();
    }

    /// <inheritdoc />
    public IEnumerable<long> ListCommits()
    {
        var numbers = new List<long>();
        foreach (var f in Directory.EnumerateFiles(_dir, Prefix + "*"))
        {
            if (long.TryParse(Path.GetFileName(f).AsSpan(Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                numbers.Add(n);
            }
        }

        numbers.Sort();
        numbers.Reverse();
        return numbers;
    }

    /// <inheritdoc />
    public void RemoveCommit(long commitNum) => TryDelete(PathOf(commitNum));

    /// <inheritdoc />
    public void RemoveAllCommits()
    {
        foreach (var n in ListCommits())
        {
            RemoveCommit(n);
        }
    }

    /// <inheritdoc />
    public void OnRecovery(long commitNum)
    {
        RecoveredCommit = commitNum;
        _previous = commitNum;
        _beforePrevious = -1;
        foreach (var n in ListCommits())
        {
            // Newer files could not be read (a crash while one was written: never reported as committed); their
            // numbers are used again by the next commits. Older ones are superseded.
            if (n > commitNum)
            {
                UnreadableNewer++;
                TryDelete(PathOf(n));
            }
            else if (n < commitNum)
            {
                TryDelete(PathOf(n));
            }
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private string PathOf(long commitNum) => Path.Combine(_dir, Prefix + commitNum.ToString(CultureInfo.InvariantCulture));

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Leftovers are harmless: listed, read and, if invalid, skipped; the next recovery removes them.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
