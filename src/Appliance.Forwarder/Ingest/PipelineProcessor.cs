using Appliance.Core.Pipeline;
using Appliance.Core.Records;
using Appliance.Forwarder.Options;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Ingest;

/// <summary>
/// The processor used when at least one route has <c>Steps</c>: runs the pre-processing pipeline
/// (<see cref="RecordPipeline"/>) built from the forwarder's routes. Records and aggregates go to the output's lane
/// (late records to the route's <c>LateLane</c>), under the route's destination (late records under
/// <c>LateDestination</c> when set); dead letters go to <see cref="EdgeOptions.DeadLetterTopic"/> on the edge cluster.
/// </summary>
public sealed class PipelineProcessor : IRecordProcessor
{
    private readonly RecordPipeline _pipeline;
    private readonly string _site;
    private readonly TopicTemplate _deadLetters;
    private readonly Dictionary<string, TopicTemplate?> _lateTemplates = new(StringComparer.Ordinal);
    private readonly List<PipelineOutput> _scratch = [];
    private readonly ILogger _logger;

    /// <summary>Builds the pipeline from validated configuration.</summary>
    public PipelineProcessor(IOptions<ForwarderConfiguration> config, TimeProvider time, ILogger<PipelineProcessor> logger)
    {
        ArgumentNullException.ThrowIfNull(config);
        var c = config.Value;
        _logger = logger;
        _site = c.Site.Id;
        _pipeline = RecordPipeline.Create(ToPipelineOptions(c), c.Buffer.Lanes.Select(l => l.Name), time);
        _deadLetters = TopicTemplate.TryParse(c.Edge.DeadLetterTopic, out var error)
            ?? throw new ArgumentException($"Edge:DeadLetterTopic: {error}", nameof(config));
        foreach (var r in c.Routes)
        {
            _lateTemplates[r.Name ?? r.Lane] = r.LateDestination is null ? null : TopicTemplate.TryParse(r.LateDestination, out _);
        }
    }

    /// <summary>The pipeline's counters (per route: in, records, aggregates, late, dead letters by reason, replayed).</summary>
    public PipelineCounters Counters => _pipeline.Counters;

    /// <inheritdoc />
    public bool HasProgress => true;

    /// <summary>True when some route of the configuration has steps, i.e. the pipeline is needed.</summary>
    public static bool IsNeeded(ForwarderConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return config.Routes.Any(r => r.Steps.Count > 0);
    }

    /// <summary>
    /// The pipeline options equivalent to the forwarder's routes: same order, names (default: the lane), sources
    /// (<c>^regex</c> becomes <c>regex:^regex</c>, matched against the whole name in both), lanes and steps.
    /// Destinations stay with the forwarder's templates.
    /// </summary>
    public static PipelineOptions ToPipelineOptions(ForwarderConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return new PipelineOptions
        {
            SiteId = config.Site.Id,
            Routes = [.. config.Routes.Select(r => new Appliance.Core.Pipeline.RouteOptions
            {
                Name = r.Name ?? r.Lane,
                Sources = [.. r.Topics.Select(t => t.StartsWith('^') ? Appliance.Core.Pipeline.RouteOptions.RegexPrefix + t : t)],
                Steps = r.Steps,
                Lane = r.Lane,
                LateLane = r.LateLane,
            })],
        };
    }

    /// <summary>The pipeline's validation problems of the routes (each names the route and step), empty when valid or when no route has steps.</summary>
    public static IEnumerable<string> Problems(ForwarderConfiguration config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!IsNeeded(config))
        {
            return [];
        }

        try
        {
            _ = RecordPipeline.Create(ToPipelineOptions(config), config.Buffer.Lanes.Select(l => l.Name), TimeProvider.System);
            return [];
        }
        catch (OptionsValidationException e)
        {
            return e.Failures.Select(f => $"Routes (pipeline): {f}");
        }
    }

    /// <inheritdoc />
    public void Process(ResolvedRoute route, EdgeRecord record, ICollection<ProcessedRecord> output)
    {
        ArgumentNullException.ThrowIfNull(route);
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(output);
        _scratch.Clear();
        _pipeline.Process(record, _scratch);
        foreach (var o in _scratch)
        {
            string destination;
            if (o.Kind == PipelineOutputKind.DeadLetter)
            {
                destination = _deadLetters.Render(_site, record.Source.Topic, route.Lane);
            }
            else if (o.Kind == PipelineOutputKind.Late && _lateTemplates.GetValueOrDefault(route.Route) is { } late)
            {
                destination = late.Render(_site, record.Source.Topic, o.Lane ?? route.Lane);
            }
            else
            {
                destination = route.DestinationTopic;
            }

            var r = o.Record;
            output.Add(new ProcessedRecord(
                new EdgeRecord(r.Source, r.TimestampMs, r.Key, r.Value, r.Headers, destination),
                o.Kind == PipelineOutputKind.DeadLetter ? null : o.Lane ?? route.Lane));
        }
    }

    /// <inheritdoc />
    public long? Restore(SourcePartition partition, long? durableResumeOffset, string? checkpoint)
    {
        PipelineCheckpoint? parsed = null;
        if (checkpoint is not null)
        {
            try
            {
                parsed = PipelineCheckpoint.Parse(checkpoint);
                if (parsed.Partition != partition)
                {
                    parsed = null;
                }
            }
            catch (FormatException e)
            {
                Log.CheckpointUnreadable(_logger, partition.ToString(), e.Message);
            }
        }

        // With a checkpoint, its NextOffset is the boundary below which outputs are treated as durable: it is stored
        // only when every output of every record below it is durable. The buffer's resume point may be past a record
        // with several outputs (e.g. one record closing windows of several keys) of which only the first ones were
        // committed; re-reading from the checkpoint re-appends, and the buffer answers AlreadyBuffered for the
        // outputs it holds and stores the rest. Without a checkpoint the buffer's resume point is the boundary.
        return _pipeline.Restore(partition, parsed is null ? durableResumeOffset : null, parsed);
    }

    /// <inheritdoc />
    public string? GetCheckpoint(SourcePartition partition) => _pipeline.GetCheckpoint(partition)?.ToString();
}
