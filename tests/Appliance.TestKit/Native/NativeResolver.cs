using System.Reflection;
using System.Runtime.InteropServices;

namespace Appliance.TestKit.Native;

/// <summary>The one DllImport resolver of this assembly (a resolver can be set only once per assembly).</summary>
internal static class NativeResolver
{
    private static int _registered;

    internal static void EnsureRegistered()
    {
        if (Interlocked.Exchange(ref _registered, 1) == 0)
        {
            NativeLibrary.SetDllImportResolver(typeof(NativeResolver).Assembly, Resolve);
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        LibRdKafka.Lib => NativeLibraryLocator.Handle,
        // "libc" alone may probe libc.so, which on Debian is a linker script when libc6-dev is installed.
        "libc" => NativeLibrary.Load("libc.so.6"),
        _ => IntPtr.Zero,
    };
}
