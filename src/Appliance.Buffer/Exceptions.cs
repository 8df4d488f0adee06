namespace Appliance.Buffer;

/// <summary>Base type of the buffer's own exceptions.</summary>
public abstract class BufferException : Exception
{
    /// <summary>Creates the exception.</summary>
    protected BufferException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>
/// The buffer hit a device or commit failure and stopped. The fault is sticky: every later call throws this type,
/// health reports unhealthy, and nothing more is acknowledged. Restart the process to recover to the last commit.
/// </summary>
public sealed class BufferFaultedException : BufferException
{
    /// <summary>Creates the exception.</summary>
    public BufferFaultedException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}

/// <summary>The data directory was written by an incompatible format version, or is not a buffer directory.</summary>
public sealed class BufferFormatException : BufferException
{
    /// <summary>Creates the exception.</summary>
    public BufferFormatException(string message)
        : base(message)
    {
    }
}

/// <summary>Committed data failed its checksum or could not be decoded: the buffer refuses to skip it silently.</summary>
public sealed class BufferCorruptionException : BufferException
{
    /// <summary>Creates the exception.</summary>
    public BufferCorruptionException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
