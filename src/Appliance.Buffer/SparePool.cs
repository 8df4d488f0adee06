using System.Globalization;

namespace Appliance.Buffer;

/// <summary>
/// The delivered segment files the whole buffer keeps for reuse, and the count of segment files in use, shared by all
/// lanes' <see cref="SegmentFileDevice"/>s. A spare stays in the directory of the lane that delivered it
/// (<c>log.spare.K</c>) and any lane's next new segment may be it, renamed into that lane's directory. A delivered
/// segment is kept only while the buffer holds fewer than <c>maxSpares</c> spares and its segment files, in use and
/// spare, stay within <c>capacityFiles</c> (the total budget in whole segments), so the spares never take disk space
/// beyond the budget; otherwise it is deleted.
/// </summary>
internal sealed class SparePool
{
    internal const string SpareInfix = ".spare.";

    private readonly Lock _gate = new();
    private readonly Queue<string> _spares = new();
    private readonly int _maxSpares;
    private readonly long _capacityFiles;
    private long _liveFiles;
    private int _nextNumber;

    /// <param name="maxSpares">At most this many spare files in the whole buffer (0: delete every delivered segment).</param>
    /// <param name="capacityFiles">Segment files, in use and spare, that the buffer's budget allows.</param>
    public SparePool(int maxSpares, long capacityFiles)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(maxSpares);
        ArgumentOutOfRangeException.ThrowIfNegative(capacityFiles);
        _maxSpares = maxSpares;
        _capacityFiles = capacityFiles;
    }

    /// <summary>Spare files held now.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _spares.Count;
            }
        }
    }

    /// <summary>Segment files in use now (every lane's, counted by their devices).</summary>
    public long LiveFiles
    {
        get
        {
            lock (_gate)
            {
                return _liveFiles;
            }
        }
    }

    /// <summary>
    /// Takes a device's files found at open: <paramref name="segments"/> segment files in use, and its spare files
    /// (oldest first). A spare beyond the limits (a lower setting than the one that kept it) is deleted.
    /// </summary>
    public void Register(int segments, IEnumerable<(int Number, string Path)> spares)
    {
        lock (_gate)
        {
            _liveFiles += segments;
            foreach (var (number, path) in spares.OrderBy(s => s.Number))
            {
                _nextNumber = Math.Max(_nextNumber, number + 1);
                if (Fits())
                {
                    _spares.Enqueue(path);
                }
                else
                {
                    TryDelete(path);
                }
            }
        }
    }

    /// <summary>The pool for a buffer with <paramref name="options"/>: their spare limit, their budget in whole segments.</summary>
    public static SparePool For(BufferOptions options) => new(options.SpareSegments, options.TotalBudgetBytes >> options.SegmentSizeBits);

    /// <summary>
    /// Renames the oldest spare, whichever lane's directory it is in, to <paramref name="segmentPath"/> (which does not
    /// exist); false when there is none (the caller creates the file). The caller syncs the segment's directory and
    /// reports the new file with <see cref="Added"/>; a spare from another directory has that one synced here.
    /// </summary>
    public bool TryTake(string segmentPath)
    {
        lock (_gate)
        {
            while (_spares.TryDequeue(out var spare))
            {
                try
                {
                    File.Move(spare, segmentPath);
                }
                catch (IOException)
                {
                    // Gone or unreadable: try the next one, or let the caller create a new file.
                    continue;
                }

                var from = Path.GetDirectoryName(spare)!;
                if (from != Path.GetDirectoryName(segmentPath))
                {
                    FileSync.Directory(from);
                }

                return true;
            }

            return false;
        }
    }

    /// <summary>
    /// A segment file FASTER no longer needs: renamed to a spare in its directory when the limits allow, else deleted.
    /// </summary>
    public void Release(string segmentPath)
    {
        lock (_gate)
        {
            _liveFiles--;
            if (Fits())
            {
                var spare = SpareBase(segmentPath) + SpareInfix + _nextNumber.ToString(CultureInfo.InvariantCulture);
                File.Move(segmentPath, spare);
                _nextNumber++;
                _spares.Enqueue(spare);
            }
            else
            {
                File.Delete(segmentPath);
            }
        }
    }

    /// <summary>A new segment file exists (a spare taken or a file created).</summary>
    public void Added()
    {
        lock (_gate)
        {
            _liveFiles++;
        }
    }

    // One more spare fits: under the count limit, and in-use plus spare files (with this one) within the budget.
    private bool Fits() => _spares.Count < _maxSpares && _liveFiles + _spares.Count + 1 <= _capacityFiles;

    // "…/log.7" -> "…/log": the log's base path, which names its spares.
    private static string SpareBase(string segmentPath) => segmentPath[..segmentPath.LastIndexOf('.')];

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Left on disk; the next open finds it again.
        }
    }
}
