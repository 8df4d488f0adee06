using System.Runtime.InteropServices;

namespace Appliance.TestKit.Native;

/// <summary>libc calls .NET has no managed API for (sending a signal other than SIGKILL to another process).</summary>
internal static partial class Posix
{
    internal const int SIGTERM = 15;

    static Posix() => NativeResolver.EnsureRegistered();

    [LibraryImport("libc", SetLastError = true)]
    internal static partial int kill(int pid, int signal);
}
