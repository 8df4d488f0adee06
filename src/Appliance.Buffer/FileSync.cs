using System.Runtime.InteropServices;

namespace Appliance.Buffer;

/// <summary>
/// The two syncs the buffer needs beyond what .NET offers: <c>fsync</c> of a directory (a file that was just created
/// is only certain to survive a power cut once the directory that names it is synced too; .NET cannot open a
/// directory as a file) and <c>fdatasync</c> of a file rewritten in place (.NET's <c>Flush(true)</c> is a full
/// <c>fsync</c>, which also forces the journal commit for the modification time on every call). On systems other than
/// Linux the directory sync does nothing and the data sync is a full flush.
/// </summary>
internal static partial class FileSync
{
    private const int ORdOnly = 0;
    private const int OCloExec = 0x80000; // the same value on x86-64 and arm64 (asm-generic)

    /// <summary>Syncs the entries of <paramref name="directory"/>; throws <see cref="IOException"/> naming it and the errno.</summary>
    public static void Directory(string directory)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var fd = Open(directory, ORdOnly | OCloExec);
        if (fd < 0)
        {
            throw Failure("open of directory", directory);
        }

        try
        {
            if (FSync(fd) != 0)
            {
                throw Failure("fsync of directory", directory);
            }
        }
        finally
        {
            _ = Close(fd);
        }
    }

    /// <summary>
    /// Makes the data written to <paramref name="file"/> durable, and its size if that changed, but not its
    /// timestamps (<c>fdatasync</c>); throws <see cref="IOException"/> naming the file and the errno.
    /// </summary>
    public static void Data(FileStream file)
    {
        if (!OperatingSystem.IsLinux())
        {
            file.Flush(flushToDisk: true);
            return;
        }

        var added = false;
        var handle = file.SafeFileHandle;
        try
        {
            handle.DangerousAddRef(ref added);
            if (FDataSync((int)handle.DangerousGetHandle()) != 0)
            {
                throw Failure("fdatasync of", file.Name);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    private static IOException Failure(string call, string path)
    {
        var errno = Marshal.GetLastPInvokeError();
        return new IOException($"{call} '{path}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})", errno);
    }

    [LibraryImport("libc.so.6", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc.so.6", EntryPoint = "fsync", SetLastError = true)]
    private static partial int FSync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FDataSync(int fd);

    [LibraryImport("libc.so.6", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}
