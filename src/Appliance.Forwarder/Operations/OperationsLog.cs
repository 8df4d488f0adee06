using Microsoft.Extensions.Logging;

namespace Appliance.Forwarder.Operations;

/// <summary>Log messages of the operations surface. EventIds 2900-2999 (inside the forwarder's 2000-2999 range) are reserved for it.</summary>
internal static partial class OperationsLog
{
    [LoggerMessage(EventId = 2900, Level = LogLevel.Information, Message = "Operations surface listening: {Endpoints}")]
    public static partial void Listening(ILogger logger, string endpoints);

    [LoggerMessage(EventId = 2901, Level = LogLevel.Warning, Message = "Reading the appliance status failed during {Activity}")]
    public static partial void StatusFailed(ILogger logger, Exception e, string activity);

    [LoggerMessage(EventId = 2902, Level = LogLevel.Information, Message = "systemd watchdog active: ping every {IntervalMs} ms while healthy")]
    public static partial void WatchdogActive(ILogger logger, long intervalMs);

    [LoggerMessage(EventId = 2903, Level = LogLevel.Warning, Message = "Unhealthy ({Reason}): withholding the systemd watchdog ping")]
    public static partial void WatchdogWithheld(ILogger logger, string reason);

    [LoggerMessage(EventId = 2904, Level = LogLevel.Information, Message = "Healthy again: systemd watchdog pings resumed")]
    public static partial void WatchdogResumed(ILogger logger);

    [LoggerMessage(EventId = 2905, Level = LogLevel.Information, Message = "Admin command {Command} {Lane}: {Outcome}")]
    public static partial void AdminCommand(ILogger logger, string command, string lane, string outcome);

    [LoggerMessage(EventId = 2906, Level = LogLevel.Warning, Message = "Removed a stale admin socket at {Path}")]
    public static partial void StaleSocketRemoved(ILogger logger, string path);
}
