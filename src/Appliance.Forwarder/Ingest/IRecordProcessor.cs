using Appliance.Core.Records;
using Appliance.Forwarder.Options;

namespace Appliance.Forwarder.Ingest;

/// <summary>One record a processor produced: where it goes.</summary>
/// <param name="Record">The record; its <see cref="EdgeRecord.DestinationTopic"/> is the central topic, or for a dead letter the edge dead-letter topic.</param>
/// <param name="Lane">The buffer lane, or null for a dead letter (produced to the edge dead-letter topic, not buffered).</param>
public readonly record struct ProcessedRecord(EdgeRecord Record, string? Lane);

/// <summary>
/// The seam where a route's pre-processing chain (filter, mask, downsample, ...) plugs into the ingest: maps one
/// consumed record to zero or more records to buffer (each in its lane) or to dead-letter. Called from the single
/// ingest thread, partitions in offset order; each consumed record is processed once per session (outputs refused by
/// a full lane are kept by the ingest and appended again, not recomputed).
/// </summary>
public interface IRecordProcessor
{
    /// <summary>True when the processor keeps per-partition state that must be persisted after each durable batch (<see cref="GetCheckpoint"/>).</summary>
    bool HasProgress { get; }

    /// <summary>Processes <paramref name="record"/> of <paramref name="route"/>, adding the results to <paramref name="output"/>.</summary>
    void Process(ResolvedRoute route, EdgeRecord record, ICollection<ProcessedRecord> output);

    /// <summary>
    /// Prepares a partition before its first record and returns the offset to start consuming at, or null for the
    /// consumer's default (group offset, else earliest).
    /// </summary>
    /// <param name="partition">The source partition.</param>
    /// <param name="durableResumeOffset">The buffer's resume point, or null.</param>
    /// <param name="checkpoint">The checkpoint stored with the buffer's source progress, or null.</param>
    long? Restore(SourcePartition partition, long? durableResumeOffset, string? checkpoint);

    /// <summary>The state to persist for <paramref name="partition"/> once everything processed so far is durable, or null.</summary>
    string? GetCheckpoint(SourcePartition partition);
}

/// <summary>The default processor: every record passes unchanged to its route's lane.</summary>
public sealed class PassThroughProcessor : IRecordProcessor
{
    /// <inheritdoc />
    public bool HasProgress => false;

    /// <inheritdoc />
    public void Process(ResolvedRoute route, EdgeRecord record, ICollection<ProcessedRecord> output)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(output);
        output.Add(new ProcessedRecord(record, route.Lane));
    }

    /// <inheritdoc />
    public long? Restore(SourcePartition partition, long? durableResumeOffset, string? checkpoint) => durableResumeOffset;

    /// <inheritdoc />
    public string? GetCheckpoint(SourcePartition partition) => null;
}
