using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using FASTER.core;

namespace Appliance.Buffer;

/// <summary>
/// Where a lane's FasterLog keeps its commit metadata: two fixed files, <c>commits/slot.0</c> and
/// <c>commits/slot.1</c>, written alternately in place. Each holds one commit record: <c>ACM2</c>, i64 commit
/// number, i32 metadata length, FASTER's metadata, u32 CRC-32 of everything before it, zero padding to whole 4 KiB
/// blocks. Lanes written by buffer format 1 (one file per commit, <c>commits/log-commits/commit.N</c>) are read too,
/// and their files removed once two newer commits are in the slots.
/// </summary>
/// <remarks>
/// <para>
/// Replaces FASTER's manager because of how that one fails on a full disk: it logs a failed metadata write and carries
/// on, FASTER then reports the commit as done, and the previous commit file is deleted. After the next restart no
/// commit can be read and FASTER silently opens the lane empty: everything it held, acknowledged upstream, is gone
/// (chaos disk-full-6, 2026-12-01: 1,857 records). Here a write that fails throws (FASTER then never reports that
/// commit; <see cref="Failed"/> lets the buffer fault at once), and a record that is torn or fails its CRC is never used.
/// </para>
/// <para>
/// Why two slots rather than a file per commit: a commit only rewrites blocks the file already has (<c>pwrite</c>,
/// then <c>fdatasync</c>), so no file is created or deleted and no directory synced per commit; that was about half
/// of the commit latency (docs/benchmarks.md). The slot being written never holds the newest commit, so a write torn by
/// a crash or failed by the disk only loses the commit it was writing; the other slot still has the one before.
/// </para>
/// </remarks>
internal sealed class LaneCommitManager : ILogCommitManager
{
    /// <summary>Slot files grow in whole blocks, and are created with one, so that a commit normally allocates nothing.</summary>
    internal const int Block = 4096;
    private const int HeaderLength = 16; // magic, commit number, metadata length
    private const string LegacyPrefix = "commit.";
    private static readonly byte[] SlotMagic = "ACM2"u8.ToArray();
    private static readonly byte[] LegacyMagic = "ACM1"u8.ToArray();
    private readonly FileStream[] _slots = new FileStream[2];
    private readonly string _legacyDir;
    private readonly TaskCompletionSource<Exception> _failed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // What the slots hold, read once at open and then kept in step with every write (recovery, the only reader, asks
    // several times); and the format-1 commit files still on disk.
    private readonly Slot[] _state = new Slot[2];
    private readonly List<long> _legacy;
    private int _current = -1;

    /// <summary>Creates the manager for a lane's <c>commits</c> directory, creating the two slot files if needed.</summary>
    public LaneCommitManager(string commitsDirectory)
    {
        Directory.CreateDirectory(commitsDirectory);
        _legacyDir = Path.Combine(commitsDirectory, "log-commits");
        try
        {
            var created = false;
            for (var i = 0; i < 2; i++)
            {
                _slots[i] = new FileStream(Path.Combine(commitsDirectory, $"slot.{i}"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 1, FileOptions.None);
                if (_slots[i].Length == 0)
                {
                    // A zeroed block on disk: later commits overwrite it without allocating (so a full disk cannot fail them).
                    RandomAccess.Write(_slots[i].SafeFileHandle, new byte[Block], 0);
                    FileSync.Data(_slots[i]);
                    created = true;
                }
            }

            if (created)
            {
                FileSync.Directory(commitsDirectory);
            }
        }
        catch
        {
            Dispose();
            throw;
        }

        _state[0] = ReadSlot(0);
        _state[1] = ReadSlot(1);
        _legacy = ListLegacy();
        FilesAtOpen = _state.Count(slot => !slot.Empty) + _legacy.Count;
    }

    /// <summary>Completes (with the error) when a commit could not be written; FASTER never completes that commit.</summary>
    public Task<Exception> Failed => _failed.Task;

    /// <summary>Commit records present when the lane was opened (written slots and format-1 commit files).</summary>
    public int FilesAtOpen { get; }

    /// <summary>The commit FASTER recovered from, or null when it could use none.</summary>
    public long? RecoveredCommit { get; private set; }

    /// <summary>Commit records that were newer than the recovered one but unreadable (torn by a crash mid-write).</summary>
    public int UnreadableNewer { get; private set; }

    /// <summary>Test seam: replaces writing a record into a slot file and syncing it (e.g. to fail like a broken disk).</summary>
    internal Action<string, byte[]>? WriteSlotForTests { get; set; }

    /// <inheritdoc />
    public void Commit(long beginAddress, long untilAddress, byte[] commitMetadata, long commitNum, bool forceWriteMetadata)
    {
        ArgumentNullException.ThrowIfNull(commitMetadata);
        var target = _current == 0 ? 1 : 0;
        var record = new byte[(HeaderLength + commitMetadata.Length + 4 + Block - 1) / Block * Block];
        SlotMagic.CopyTo(record, 0);
        BinaryPrimitives.WriteInt64LittleEndian(record.AsSpan(4), commitNum);
        BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(12), commitMetadata.Length);
        commitMetadata.CopyTo(record, HeaderLength);
        var end = HeaderLength + commitMetadata.Length;
        BinaryPrimitives.WriteUInt32LittleEndian(record.AsSpan(end), Crc32.HashToUInt32(record.AsSpan(0, end)));
        try
        {
            if (WriteSlotForTests is { } write)
            {
                write(_slots[target].Name, record);
            }
            else
            {
                RandomAccess.Write(_slots[target].SafeFileHandle, record, 0);
                FileSync.Data(_slots[target]);
            }
        }
        catch (Exception e)
        {
            // The write may have reached the slot in part.
            _state[target] = Slot.Unreadable;
            _failed.TrySetResult(e);
            throw;
        }

        _state[target] = new Slot(false, commitNum, commitMetadata);
        _current = target;
        if (_legacy.Count > 0 && _state[1 - target].Metadata is not null)
        {
            // Both slots now hold commits newer than every format-1 file (recovery kept only the one it used): those
            // are no longer a fallback.
            foreach (var n in _legacy)
            {
                TryDelete(LegacyPath(n));
            }

            _legacy.Clear();
        }
    }

    /// <inheritdoc />
    public byte[]? GetCommitMetadata(long commitNum)
    {
        foreach (var slot in _state)
        {
            if (slot.Metadata is not null && slot.CommitNum == commitNum)
            {
                return slot.Metadata;
            }
        }

        return ReadLegacy(commitNum);
    }

    /// <inheritdoc />
    public IEnumerable<long> ListCommits()
    {
        return _legacy.Concat(_state.Where(slot => slot.Metadata is not null).Select(slot => slot.CommitNum)).Distinct().OrderDescending().ToList();
    }

    /// <inheritdoc />
    public void RemoveCommit(long commitNum)
    {
        for (var i = 0; i < 2; i++)
        {
            if (_state[i].Metadata is not null && _state[i].CommitNum == commitNum)
            {
                ClearSlot(i);
            }
        }

        if (_legacy.Remove(commitNum))
        {
            TryDelete(LegacyPath(commitNum));
        }
    }

    /// <inheritdoc />
    public void RemoveAllCommits()
    {
        ClearSlot(0);
        ClearSlot(1);
        foreach (var n in _legacy)
        {
            TryDelete(LegacyPath(n));
        }

        _legacy.Clear();
    }

    /// <inheritdoc />
    public void OnRecovery(long commitNum)
    {
        RecoveredCommit = commitNum;
        _current = -1;
        for (var i = 0; i < 2; i++)
        {
            var slot = _state[i];
            if (slot.Metadata is not null && slot.CommitNum == commitNum)
            {
                _current = i;
            }
            else if (!slot.Empty && (slot.Metadata is null || slot.CommitNum > commitNum))
            {
                // Torn by a crash while it was written (never reported as committed); the next commit overwrites it.
                UnreadableNewer++;
            }
        }

        // Every format-1 file goes except the one recovered from, which stays the fallback until both slots hold newer
        // commits. A newer one could not be read (a crash while it was written; its number is used again).
        var keep = _current < 0 ? commitNum : -1;
        foreach (var n in _legacy.Where(n => n != keep))
        {
            if (n > commitNum)
            {
                UnreadableNewer++;
            }

            TryDelete(LegacyPath(n));
        }

        _legacy.RemoveAll(n => n != keep);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        foreach (var s in _slots)
        {
            s?.Dispose();
        }
    }

    private Slot ReadSlot(int i)
    {
        var handle = _slots[i].SafeFileHandle;
        var bytes = new byte[RandomAccess.GetLength(handle)];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        var span = bytes.AsSpan(0, read);
        if (!span.ContainsAnyExcept((byte)0))
        {
            return Slot.Blank;
        }

        if (span.Length < HeaderLength + 4 || !span[..4].SequenceEqual(SlotMagic))
        {
            return Slot.Unreadable;
        }

        var commitNum = BinaryPrimitives.ReadInt64LittleEndian(span[4..]);
        var length = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
        if (length <= 0 || length > span.Length - HeaderLength - 4)
        {
            return Slot.Unreadable;
        }

        var end = HeaderLength + length;
        return BinaryPrimitives.ReadUInt32LittleEndian(span[end..]) == Crc32.HashToUInt32(span[..end])
            ? new Slot(false, commitNum, span[HeaderLength..end].ToArray())
            : Slot.Unreadable;
    }

    private void ClearSlot(int i)
    {
        var length = RandomAccess.GetLength(_slots[i].SafeFileHandle);
        RandomAccess.Write(_slots[i].SafeFileHandle, new byte[length], 0);
        FileSync.Data(_slots[i]);
        _state[i] = Slot.Blank;
        if (_current == i)
        {
            _current = -1;
        }
    }

    /// <summary>A format-1 commit file: i32 length, metadata, then <c>ACM1</c> and a CRC-32, or (FASTER's own manager) zero padding to whole sectors.</summary>
    private byte[]? ReadLegacy(long commitNum)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(LegacyPath(commitNum));
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
        if (bytes.Length >= end + LegacyMagic.Length + 4 && bytes.AsSpan(end, LegacyMagic.Length).SequenceEqual(LegacyMagic))
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(end + LegacyMagic.Length)) != Crc32.HashToUInt32(bytes.AsSpan(0, end)))
            {
                return null;
            }
        }
        else if (bytes.Length % 512 != 0 || bytes.AsSpan(end).ContainsAnyExcept((byte)0))
        {
            // Neither our trailer nor a file of FASTER's own manager: not a commit (e.g. one cut short before its trailer).
            return null;
        }

        return bytes.AsSpan(4, length).ToArray();
    }

    private List<long> ListLegacy()
    {
        var numbers = new List<long>();
        if (!Directory.Exists(_legacyDir))
        {
            return numbers;
        }

        foreach (var f in Directory.EnumerateFiles(_legacyDir, LegacyPrefix + "*"))
        {
            if (long.TryParse(Path.GetFileName(f).AsSpan(LegacyPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                numbers.Add(n);
            }
        }

        return numbers;
    }

    private string LegacyPath(long commitNum) => Path.Combine(_legacyDir, LegacyPrefix + commitNum.ToString(CultureInfo.InvariantCulture));

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

    /// <summary>What a slot holds: nothing yet (all zeros), a commit, or bytes that are not a valid record (<see cref="Metadata"/> null).</summary>
    private readonly record struct Slot(bool Empty, long CommitNum, byte[]? Metadata)
    {
        public static Slot Blank => new(true, 0, null);

        public static Slot Unreadable => new(false, 0, null);
    }
}
