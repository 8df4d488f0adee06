using System.Runtime.InteropServices;

namespace Appliance.Buffer;

/// <summary>
/// Makes a directory's entries durable (<c>fsync</c> on the directory itself): a file that was just created and
/// written through is only certain to survive a power cut once the directory that names it is synced too (POSIX;
/// ext4 usually covers it with its journal commit, other file systems may not). .NET cannot open a directory as a
/// file, hence the libc calls. On systems other than Linux this does nothing.
/// </summary>
internal static partial class DirectorySync
{
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000; // the same value on x86-64 and arm64 (asm-generic)

    /// <summary>Syncs <paramref name="directory"/>; throws <see cref="IOException"/> naming it and the errno.</summary>
    public static void Flush(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, ORdOnly | OCloExec);
        if (fd < 0)
        {
            throw Failure("open", directory);
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw Failure("fsync", directory);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    private static IOException Failure(string call, string directory)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} of directory '{directory}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }

    [LibraryImport("libc.so.6", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
