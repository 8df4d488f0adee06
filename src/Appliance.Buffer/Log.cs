using Microsoft.Extensions.Logging;

namespace Appliance.Buffer;

/// <summary>Log messages of the buffer. EventIds 1000-1099 belong to this assembly and are never reused.</summary>
internal static partial class BufferLog
{
    [LoggerMessage(EventId = 1000, Level = LogLevel.Information, Message = "Buffer opened: {Settings}; incarnation {Incarnation}")]
    public static partial void Opened(ILogger logger, string settings, string incarnation);

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Lane {Lane} recovered in {ElapsedMs} ms: {Bytes} bytes, {Records} records buffered, begin {Begin}, committed tail {Tail}")]
    public static partial void LaneRecovered(ILogger logger, string lane, long elapsedMs, long bytes, long records, long begin, long tail);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Warning, Message = "Lane {Lane}: discarded {Entries} entries ({Bytes} bytes) written after the last commit (a torn tail) at address {CommittedTail}; recovered to the last commit (they were never acknowledged as durable)")]
    public static partial void TornTailDiscarded(ILogger logger, string lane, long entries, long bytes, long committedTail);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Lane {Lane}: dropped {Records} records ({Reason})")]
    public static partial void Dropped(ILogger logger, string lane, long records, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Critical, Message = "Buffer faulted: {Reason}. Nothing more is accepted or acknowledged; restart to recover to the last commit")]
    public static partial void Faulted(ILogger logger, Exception exception, string reason);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Lane {Lane} created")]
    public static partial void LaneCreated(ILogger logger, string lane);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Warning, Message = "Lane {Lane}: {Files} commit metadata file(s) newer than commit {Commit} could not be read (a crash while one was written; never reported as committed); recovered from commit {Commit}")]
    public static partial void UnreadableCommits(ILogger logger, string lane, int files, long commit);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "Buffer directory {Directory} upgraded from format version {From} to {To}; a build that reads only version {From} now refuses it")]
    public static partial void FormatUpgraded(ILogger logger, string directory, int from, int to);

    [LoggerMessage(EventId = 1008, Level = LogLevel.Debug, Message = "Commit round of {Lanes} lane(s) took {ElapsedMs} ms")]
    public static partial void SlowCommit(ILogger logger, int lanes, long elapsedMs);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Warning, Message = "Commit round of {Lanes} lane(s) took {ElapsedMs} ms: the disk is slow to make data durable (ingest waits for every commit)")]
    public static partial void VerySlowCommit(ILogger logger, int lanes, long elapsedMs);
}
