namespace Appliance.Cli;

/// <summary>Exit codes of appliancectl (documented in docs/operations.md).</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Ok = 0;

    /// <summary>The command ran and found a problem (invalid configuration, service error).</summary>
    public const int Failure = 1;

    /// <summary>Bad command line.</summary>
    public const int Usage = 2;

    /// <summary>appliance-forwarder is not running (no admin socket, or nothing listens on it).</summary>
    public const int NotRunning = 3;

    /// <summary>The named lane does not exist.</summary>
    public const int NotFound = 4;
}
