using Appliance.Core.Records;

namespace Appliance.Core.Pipeline;

/// <summary>What kind of record the pipeline produced.</summary>
public enum PipelineOutputKind
{
    /// <summary>An input record, possibly transformed: forward it to <see cref="PipelineOutput.Lane"/>.</summary>
    Record,

    /// <summary>A window aggregate built by <c>downsample</c>: forward it to <see cref="PipelineOutput.Lane"/>.</summary>
    Aggregate,

    /// <summary>
    /// A record that arrived after its window was emitted (header <see cref="PipelineHeaders.Late"/>): forward it
    /// to <see cref="PipelineOutput.Lane"/> and <see cref="EdgeRecord.DestinationTopic"/>, which come from the
    /// route's <c>LateLane</c> and <c>LateDestinationTemplate</c>.
    /// </summary>
    Late,

    /// <summary>
    /// The input record could not be processed: send <see cref="PipelineOutput.Record"/> (the unchanged input
    /// plus dead-letter headers) to the local dead-letter topic; <see cref="PipelineOutput.DeadLetter"/> says why.
    /// </summary>
    DeadLetter,
}

/// <summary>Why a record became a dead letter.</summary>
/// <param name="ErrorClass">A short stable class: a <see cref="PipelineDataException"/> class, or an exception type name.</param>
/// <param name="Message">The error message.</param>
/// <param name="Step">The failing step as "index:type" (index from 0 in the route's Steps), or null.</param>
public sealed record DeadLetterReason(string ErrorClass, string Message, string? Step);

/// <summary>One record produced by <see cref="RecordPipeline.Process(EdgeRecord, ICollection{PipelineOutput})"/>.</summary>
/// <param name="Kind">What the record is.</param>
/// <param name="Record">The record to append to the buffer (or to the dead-letter topic). Its
/// <see cref="EdgeRecord.Source"/> is the position of the INPUT record whose processing produced it (for an
/// aggregate, the record that closed the window; the covered offsets are in <see cref="PipelineHeaders.SourceRanges"/>),
/// so the buffer's highest source offset per partition stays a valid resume point.</param>
/// <param name="Route">The route name.</param>
/// <param name="Lane">The buffer lane, or null for a dead letter.</param>
/// <param name="DeadLetter">The reason, only for <see cref="PipelineOutputKind.DeadLetter"/>.</param>
public readonly record struct PipelineOutput(
    PipelineOutputKind Kind,
    EdgeRecord Record,
    string Route,
    string? Lane,
    DeadLetterReason? DeadLetter);

/// <summary>Header names the pipeline writes.</summary>
public static class PipelineHeaders
{
    /// <summary>On late records: "true".</summary>
    public const string Late = "x-pipeline-late";

    /// <summary>On aggregates: the window start, Unix epoch milliseconds (decimal text).</summary>
    public const string WindowStart = "x-window-start";

    /// <summary>On aggregates: the window end (exclusive), Unix epoch milliseconds (decimal text).</summary>
    public const string WindowEnd = "x-window-end";

    /// <summary>On aggregates: the output identity "topic/partition/keyHex/windowStart"; equal identities are duplicates.</summary>
    public const string WindowId = "x-window-id";

    /// <summary>On aggregates: the covered source offsets as "topic/partition/first-last" (both included).</summary>
    public const string SourceRanges = "x-source-ranges";

    /// <summary>On dead letters: the route name.</summary>
    public const string DeadLetterRoute = "x-dead-letter-route";

    /// <summary>On dead letters: the failing step ("index:type").</summary>
    public const string DeadLetterStep = "x-dead-letter-step";

    /// <summary>On dead letters: the error class.</summary>
    public const string DeadLetterErrorClass = "x-dead-letter-error-class";

    /// <summary>On dead letters: the error message.</summary>
    public const string DeadLetterError = "x-dead-letter-error";
}
