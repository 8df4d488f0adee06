using System.Collections.Concurrent;
using System.Globalization;
using FASTER.core;
using Microsoft.Win32.SafeHandles;

namespace Appliance.Buffer;

/// <summary>
/// A lane's log device: one file per FASTER segment (<c>log.N</c>), written with positional writes straight from
/// FASTER's page memory and opened with <c>O_SYNC</c> (<see cref="FileOptions.WriteThrough"/>), as FASTER's own
/// managed device opens them. Unlike that device it does not simply delete a segment FASTER has truncated: it hands it
/// to the buffer's <see cref="SparePool"/>, which keeps it as <c>log.spare.K</c> within its limits, and a new segment
/// is a spare (of any lane) renamed when there is one. Writing over a file that exists reuses its disk blocks and its
/// pages in the page cache; a new file needs both allocated again, and on this project's VMs a fresh page costs a host
/// fault (docs/buffer.md, "Segment files"). A recycled segment holds the old bytes beyond what has been written since:
/// FASTER never reads past the committed tail and clears the tail page from there on recovery, and
/// <see cref="DurableBuffer"/> tells torn-tail bytes from old ones by the entry timestamps.
/// </summary>
internal sealed unsafe class SegmentFileDevice : StorageDeviceBase
{
    private readonly string _directory;
    private readonly string _name;
    private readonly SparePool _pool;
    private readonly ConcurrentDictionary<int, SafeFileHandle> _handles = new();
    private readonly Lock _gate = new();
    private bool _disposed;

    /// <summary>Opens (or creates) the device over the files named <paramref name="basePath"/>.N.</summary>
    public SegmentFileDevice(string basePath, SparePool pool)
        : base(basePath, 512, Devices.CAPACITY_UNSPECIFIED)
    {
        _directory = Path.GetDirectoryName(Path.GetFullPath(basePath))!;
        _name = Path.GetFileName(basePath);
        _pool = pool;
        Directory.CreateDirectory(_directory);
        var segments = new List<int>();
        var spares = new List<(int Number, string Path)>();
        var sparePrefix = _name + SparePool.SpareInfix;
        foreach (var path in Directory.EnumerateFiles(_directory, _name + ".*"))
        {
            var file = Path.GetFileName(path);
            if (file.StartsWith(sparePrefix, StringComparison.Ordinal))
            {
                if (Number(file[sparePrefix.Length..]) is { } k)
                {
                    spares.Add((k, path));
                }
            }
            else if (Number(file[(_name.Length + 1)..]) is { } segment)
            {
                segments.Add(segment);
            }
        }

        segments.Sort();
        if (segments.Count > 0)
        {
            // The contiguous run that ends at the highest segment, as FASTER's devices recover it.
            var start = segments.Count - 1;
            while (start > 0 && segments[start - 1] == segments[start] - 1)
            {
                start--;
            }

            startSegment = segments[start];
            endSegment = segments[^1];
        }

        pool.Register(segments.Count, spares);
    }

    /// <summary>How many of this device's new segments were a spare renamed instead of a new file (since it was opened).</summary>
    public long RecycledSegments { get; private set; }

    /// <inheritdoc />
    public override void WriteAsync(IntPtr sourceAddress, int segmentId, ulong destinationAddress, uint numBytesToWrite, DeviceIOCompletionCallback callback, object context)
    {
        HandleCapacity(segmentId);
        SafeFileHandle handle;
        try
        {
            handle = Handle(segmentId, forWrite: true)!;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            callback(ErrorCode(e), 0, context);
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static op => op.Run(), new Io(handle, sourceAddress, (long)destinationAddress, numBytesToWrite, write: true, callback, context), preferLocal: false);
    }

    /// <inheritdoc />
    public override void ReadAsync(int segmentId, ulong sourceAddress, IntPtr destinationAddress, uint readLength, DeviceIOCompletionCallback callback, object context)
    {
        SafeFileHandle? handle;
        try
        {
            handle = Handle(segmentId, forWrite: false);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ObjectDisposedException)
        {
            callback(ErrorCode(e), 0, context);
            return;
        }

        if (handle is null)
        {
            // A segment never written holds nothing (FASTER's device would create an empty file and read 0 bytes).
            callback(0, 0, context);
            return;
        }

        ThreadPool.UnsafeQueueUserWorkItem(static op => op.Run(), new Io(handle, destinationAddress, (long)sourceAddress, readLength, write: false, callback, context), preferLocal: false);
    }

    /// <inheritdoc />
    public override void RemoveSegmentAsync(int segment, AsyncCallback callback, IAsyncResult result)
    {
        RemoveSegment(segment);
        callback(result);
    }

    /// <inheritdoc />
    public override void RemoveSegment(int segment)
    {
        lock (_gate)
        {
            if (_handles.TryRemove(segment, out var handle))
            {
                handle.Dispose();
            }

            var path = SegmentPath(segment);
            try
            {
                if (!File.Exists(path))
                {
                    return;
                }

                _pool.Release(path);
            }
            catch (IOException)
            {
                // As FASTER's devices: a segment that cannot be removed stays on disk and is not reused (the pool no
                // longer counts it).
            }
        }
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            foreach (var handle in _handles.Values)
            {
                handle.Dispose();
            }

            _handles.Clear();
        }
    }

    /// <summary>The file of segment <paramref name="segment"/> of the log named <paramref name="basePath"/>.</summary>
    internal static string SegmentPath(string basePath, long segment) => basePath + "." + segment.ToString(CultureInfo.InvariantCulture);

    private static int? Number(string s) => int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    private string SegmentPath(int segment) => SegmentPath(Path.Combine(_directory, _name), segment);

    /// <summary>The segment's open file; for a read, null when the segment has no file.</summary>
    private SafeFileHandle? Handle(int segment, bool forWrite)
    {
        if (_handles.TryGetValue(segment, out var handle))
        {
            return handle;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_handles.TryGetValue(segment, out handle))
            {
                return handle;
            }

            var path = SegmentPath(segment);
            var exists = File.Exists(path);
            if (!exists && !forWrite)
            {
                return null;
            }

            if (!exists && _pool.TryTake(path))
            {
                RecycledSegments++;
            }

            handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete, FileOptions.WriteThrough);
            if (!exists)
            {
                _pool.Added();
                // Renamed from a spare or created: the segment's name must survive a power cut as its O_SYNC data does.
                FileSync.Directory(_directory);
            }

            _handles[segment] = handle;
            return handle;
        }
    }

    /// <summary>The error code FASTER gets in a callback: the errno-like low bits of the HResult, never 0.</summary>
    private static uint ErrorCode(Exception e)
    {
        var code = (uint)(e.HResult & 0xFFFF);
        return code == 0 ? uint.MaxValue : code;
    }

    private sealed class Io(SafeFileHandle handle, IntPtr memory, long offset, uint length, bool write, DeviceIOCompletionCallback callback, object context)
    {
        public void Run()
        {
            uint done = 0;
            uint error = 0;
            try
            {
                if (write)
                {
                    RandomAccess.Write(handle, new ReadOnlySpan<byte>((void*)memory, (int)length), offset);
                    done = length;
                }
                else
                {
                    while (done < length)
                    {
                        var n = RandomAccess.Read(handle, new Span<byte>((byte*)memory + done, (int)(length - done)), offset + done);
                        if (n == 0)
                        {
                            break;
                        }

                        done += (uint)n;
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or UnauthorizedAccessException)
            {
                error = ErrorCode(e);
                done = 0;
            }

            callback(error, done, context);
        }
    }
}
