using System.Globalization;
using Appliance.Core.Records;

namespace Appliance.Core.Pipeline;

/// <summary>
/// What the pipeline needs to rebuild one source partition's window state after a restart exactly as an
/// uninterrupted run would have it: the state after processing every record before <see cref="NextOffset"/>.
/// Take it with <see cref="RecordPipeline.GetCheckpoint"/>, persist it after the outputs of those records are
/// durable, and hand it to <see cref="RecordPipeline.Restore"/> on start. See docs/pipeline.md.
/// </summary>
/// <param name="Partition">The source partition.</param>
/// <param name="NextOffset">The first offset not yet processed when the checkpoint was taken.</param>
/// <param name="OldestOpenOffset">The first offset of the oldest window still open at that point, or null when none is open.</param>
/// <param name="ClockMs">The windowed step's event-time clock to restore (Unix epoch milliseconds), or null when the route has no windowed step or saw no record.</param>
public sealed record PipelineCheckpoint(SourcePartition Partition, long NextOffset, long? OldestOpenOffset, long? ClockMs)
{
    /// <summary>Where ingest must resume reading the partition: min(<see cref="NextOffset"/>, <see cref="OldestOpenOffset"/>).</summary>
    public long ReplayFromOffset => OldestOpenOffset is { } o && o < NextOffset ? o : NextOffset;

    /// <summary>A compact, stable text form for storage: <c>v1|topic|partition|next|open|clock</c> (empty for null).</summary>
    public override string ToString() => string.Join(
        '|',
        "v1",
        Partition.Topic,
        Partition.Partition.ToString(CultureInfo.InvariantCulture),
        NextOffset.ToString(CultureInfo.InvariantCulture),
        OldestOpenOffset?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
        ClockMs?.ToString(CultureInfo.InvariantCulture) ?? string.Empty);

    /// <summary>Parses the form written by <see cref="ToString"/>.</summary>
    /// <param name="text">The text.</param>
    /// <exception cref="FormatException">The text is not a checkpoint.</exception>
    public static PipelineCheckpoint Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);

        // The topic may not contain '|' (Kafka topic names are [a-zA-Z0-9._-]), so splitting from both ends is safe.
        var parts = text.Split('|');
        if (parts.Length != 6 || parts[0] != "v1")
        {
            throw new FormatException($"'{text}' is not a pipeline checkpoint (expected v1|topic|partition|next|open|clock)");
        }

        return new PipelineCheckpoint(
            new SourcePartition(parts[1], int.Parse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture)),
            long.Parse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture),
            parts[4].Length == 0 ? null : long.Parse(parts[4], NumberStyles.None, CultureInfo.InvariantCulture),
            parts[5].Length == 0 ? null : long.Parse(parts[5], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
    }
}
