using Appliance.Core.Records;
using Appliance.Forwarder.Options;

namespace Appliance.Forwarder.Ingest;

/// <summary>
/// The seam where a route's pre-processing chain (filter, mask, downsample, ...) plugs into the ingest: maps one
/// consumed record to zero or more records to buffer in the route's lane. Must be deterministic for a given input
/// (after a pause or restart the same source record is processed again and outputs already buffered are skipped by
/// index). Called from the single ingest thread.
/// </summary>
public interface IRecordProcessor
{
    /// <summary>Processes <paramref name="record"/> of <paramref name="route"/>, adding the results to <paramref name="output"/>.</summary>
    void Process(ResolvedRoute route, EdgeRecord record, ICollection<EdgeRecord> output);
}

/// <summary>The default processor: every record passes unchanged.</summary>
public sealed class PassThroughProcessor : IRecordProcessor
{
    /// <inheritdoc />
    public void Process(ResolvedRoute route, EdgeRecord record, ICollection<EdgeRecord> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.Add(record);
    }
}
