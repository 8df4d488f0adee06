using Microsoft.Extensions.Logging;

namespace Appliance.Forwarder;

/// <summary>Log messages of the forwarder. EventIds 2000-2999 belong to this assembly and are never reused.</summary>
internal static partial class Log
{
    /// <summary>Routes librdkafka's own log lines into the logger: connection errors during an outage are expected and repeat, so only critical ones are warnings.</summary>
    public static void Client(ILogger logger, Confluent.Kafka.LogMessage m)
    {
        if ((int)m.Level <= 2)
        {
            ClientLogSevere(logger, m.Name, m.Facility, (int)m.Level, m.Message);
        }
        else
        {
            ClientLog(logger, m.Name, m.Facility, (int)m.Level, m.Message);
        }
    }

    // 2000-2099: host and configuration
    [LoggerMessage(EventId = 2000, Level = LogLevel.Information, Message = "Effective settings: {Settings}")]
    public static partial void EffectiveSettings(ILogger logger, string settings);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Critical, Message = "Invalid configuration: {Problems}")]
    public static partial void InvalidConfiguration(ILogger logger, string problems);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Forwarder started: site {Site}, buffer incarnation {Incarnation}, {Lanes} lanes, delivery {Delivery}")]
    public static partial void Started(ILogger logger, string site, string incarnation, int lanes, string delivery);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Critical, Message = "{Service} failed; stopping the forwarder")]
    public static partial void ServiceFailed(ILogger logger, Exception exception, string service);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information, Message = "Records dropped: lane {Lane}, reason {Reason}, {Count} records")]
    public static partial void RecordsDropped(ILogger logger, string lane, string reason, long count);

    // 2100-2199: ingest
    [LoggerMessage(EventId = 2100, Level = LogLevel.Information, Message = "Ingest subscribed to {Subscription}, records polled {ConsumePath}")]
    public static partial void Subscribed(ILogger logger, string subscription, string consumePath);

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Partition {Partition} assigned, resuming at {Offset} ({Source})")]
    public static partial void PartitionAssigned(ILogger logger, string partition, string offset, string source);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "Partitions revoked: {Partitions}")]
    public static partial void PartitionsRevoked(ILogger logger, string partitions);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Warning, Message = "Lane {Lane} is full (policy block): ingest of {Partitions} paused")]
    public static partial void LanePaused(ILogger logger, string lane, string partitions);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Information, Message = "Lane {Lane} has space again: ingest resumed")]
    public static partial void LaneResumed(ILogger logger, string lane);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Edge topic {Topic} matches no route; its records are skipped")]
    public static partial void NoRoute(ILogger logger, string topic);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "Edge consumer error: {Reason} ({Code})")]
    public static partial void EdgeError(ILogger logger, string reason, string code);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "Committing edge consumer-group offsets failed (lag monitoring only): {Reason}")]
    public static partial void OffsetCommitFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2108, Level = LogLevel.Debug, Message = "Measuring the edge consumer lag failed (the last figures stay): {Reason}")]
    public static partial void LagQueryFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2109, Level = LogLevel.Debug, Message = "Edge consumer error again: {Reason} ({Code})")]
    public static partial void EdgeErrorRepeated(ILogger logger, string reason, string code);

    [LoggerMessage(EventId = 2110, Level = LogLevel.Information, Message = "Edge broker delivering again ({Errors} client errors while it was not)")]
    public static partial void EdgeRecovered(ILogger logger, int errors);

    // 2200-2299: drain
    [LoggerMessage(EventId = 2200, Level = LogLevel.Information, Message = "Drain session started: {Mode}, transactional id {TransactionalId}, records produced {ProducePath}")]
    public static partial void SessionStarted(ILogger logger, string mode, string transactionalId, string producePath);

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Checkpoint of lane {Lane} is ahead of the local buffer: skipping {Records} records already at central ({From} -> {To})")]
    public static partial void SkippedDelivered(ILogger logger, string lane, int records, long from, long to);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Information, Message = "Checkpoint of lane {Lane} belongs to incarnation {Theirs}, not {Ours}: ignored")]
    public static partial void ForeignCheckpoint(ILogger logger, string lane, string theirs, string ours);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Warning, Message = "Drain session failed; batches rewound, reconnecting: {Reason}")]
    public static partial void SessionFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Information, Message = "Created topic {Topic} ({Partitions} partitions, {Config})")]
    public static partial void TopicCreated(ILogger logger, string topic, int partitions, string config);

    [LoggerMessage(EventId = 2205, Level = LogLevel.Information, Message = "Gap marker forwarded: lane {Lane}, reason {Reason}, {Count} records in {Ranges} ranges")]
    public static partial void GapForwarded(ILogger logger, string lane, string reason, long count, int ranges);

    [LoggerMessage(EventId = 2206, Level = LogLevel.Debug, Message = "Transaction committed: {Records} records, {Bytes} bytes, lanes {Lanes}; {ElapsedMs} ms from the first read (reading {ReadMs} ms, producing {ProduceMs} ms, committing {CommitMs} ms)")]
    public static partial void TransactionCommitted(ILogger logger, int records, long bytes, string lanes, long elapsedMs, long readMs, long produceMs, long commitMs);

    [LoggerMessage(EventId = 2213, Level = LogLevel.Debug, Message = "Central's partition leaders asked for again after all brokers were down: {Topics} topic(s) in {ElapsedMs} ms")]
    public static partial void LeadersRefreshed(ILogger logger, int topics, long elapsedMs);

    [LoggerMessage(EventId = 2207, Level = LogLevel.Warning, Message = "Aborting the transaction failed: {Reason}")]
    public static partial void AbortFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2208, Level = LogLevel.Warning, Message = "Central producer error: {Reason} ({Code}, fatal {Fatal})")]
    public static partial void CentralError(ILogger logger, string reason, string code, bool fatal);

    [LoggerMessage(EventId = 2209, Level = LogLevel.Warning, Message = "Could not create topic {Topic}: {Reason}")]
    public static partial void TopicCreateFailed(ILogger logger, string topic, string reason);

    [LoggerMessage(EventId = 2210, Level = LogLevel.Debug, Message = "librdkafka {Client} [{Facility}] level {Level}: {Message}")]
    public static partial void ClientLog(ILogger logger, string client, string facility, int level, string message);

    [LoggerMessage(EventId = 2211, Level = LogLevel.Warning, Message = "librdkafka {Client} [{Facility}] level {Level}: {Message}")]
    public static partial void ClientLogSevere(ILogger logger, string client, string facility, int level, string message);

    [LoggerMessage(EventId = 2212, Level = LogLevel.Debug, Message = "Central client error: {Reason} ({Code})")]
    public static partial void CentralTransient(ILogger logger, string reason, string code);

    // 2300-2399: uplink
    [LoggerMessage(EventId = 2300, Level = LogLevel.Information, Message = "Uplink {From} -> {To}")]
    public static partial void UplinkChanged(ILogger logger, string from, string to);

    [LoggerMessage(EventId = 2301, Level = LogLevel.Debug, Message = "Central probe failed: {Reason}")]
    public static partial void ProbeFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 2150, Level = LogLevel.Warning, Message = "Pipeline checkpoint of {Partition} is unreadable, windows are rebuilt from the buffer resume point: {Reason}")]
    public static partial void CheckpointUnreadable(ILogger logger, string partition, string reason);

    [LoggerMessage(EventId = 2151, Level = LogLevel.Error, Message = "Dead letter to {Topic} failed: {Reason}")]
    public static partial void DeadLetterFailed(ILogger logger, string topic, string reason);
}
