using Appliance.Core.Records;
using Microsoft.Extensions.Options;

namespace Appliance.Core.Pipeline;

/// <summary>
/// The pre-processing pipeline the forwarder calls for every record it consumes from the edge broker: it picks
/// the first matching route, runs the route's steps (a middleware chain) and returns what to buffer.
/// </summary>
/// <remarks>
/// <para>Not thread-safe: one instance is driven by one ingest loop, records of a partition in offset order.
/// The counters may be read from any thread.</para>
/// <para>Restart contract (see docs/pipeline.md, "Exactly-once with windows"): after a batch's outputs are durable,
/// persist <see cref="GetCheckpoint"/> of each partition; on start, call <see cref="Restore"/> with the buffer's
/// resume point and the persisted checkpoint and resume reading the partition at the offset it returns. Outputs
/// produced while re-reading records that are already accounted for are discarded; windows are rebuilt and emitted
/// exactly as without the restart.</para>
/// </remarks>
public sealed class RecordPipeline
{
    private readonly List<RouteInfo> _routes;
    private readonly Dictionary<string, RouteInfo?> _routeByTopic = new(StringComparer.Ordinal);
    private readonly Dictionary<SourcePartition, (long Boundary, PipelineCheckpoint? Restored)> _replayUntil = [];
    private readonly Dictionary<SourcePartition, long> _nextOffset = [];
    private readonly List<RecordContext> _pending = [];
    private SourcePartition _lastPartition;
    private bool _hasLastPartition;

    private RecordPipeline(List<RouteInfo> routes)
    {
        _routes = routes;
        Counters = new PipelineCounters(routes.Select(r => r.Name));
        foreach (var route in routes)
        {
            route.Counters = Counters.Routes[route.Name];
            StepDelegate next = _pending.Add;
            for (var i = route.Steps.Count - 1; i >= 0; i--)
            {
                var (label, step) = route.Steps[i];
                var inner = next;
                next = context =>
                {
                    try
                    {
                        step.Invoke(context, inner);
                    }
                    catch (Exception ex) when (ex is not StepFailedException)
                    {
                        throw new StepFailedException(label, ex);
                    }
                };
            }

            route.Chain = next;
        }
    }

    /// <summary>The counters per route (records in and out, aggregates, late records, dead letters by reason, replayed) and unrouted records.</summary>
    public PipelineCounters Counters { get; }

    /// <summary>Builds a pipeline from validated options.</summary>
    /// <param name="options">The pipeline options.</param>
    /// <param name="knownLanes">The buffer lane names routes may use.</param>
    /// <param name="timeProvider">The clock for steps that need wall time (the <c>$now</c> value of <c>set</c>); null for the system clock.</param>
    /// <returns>The pipeline.</returns>
    /// <exception cref="OptionsValidationException">The options are invalid; the failures name each route and problem.</exception>
    public static RecordPipeline Create(PipelineOptions options, IEnumerable<string> knownLanes, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(knownLanes);
        var errors = new List<string>();
        var routes = PipelineBuilder.Build(options, [.. knownLanes], timeProvider ?? TimeProvider.System, errors);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(PipelineOptions.SectionName, typeof(PipelineOptions), errors);
        }

        return new RecordPipeline(routes);
    }

    /// <summary>
    /// Processes one record consumed from the edge broker and appends what it produced to <paramref name="outputs"/>:
    /// nothing (no route matched, filtered out, absorbed into a window, or re-read after a restart), the record,
    /// aggregates of windows it closed, a late record, or one dead letter. Never throws for bad data.
    /// </summary>
    /// <param name="input">The consumed record (its <see cref="EdgeRecord.DestinationTopic"/> is ignored).</param>
    /// <param name="outputs">Receives the outputs, in order.</param>
    public void Process(EdgeRecord input, ICollection<PipelineOutput> outputs)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(outputs);
        var route = Resolve(input.Source.Topic);
        var partition = input.Source.SourcePartition;
        TrackOffset(partition, input.Source.Offset);
        if (route is null)
        {
            Counters.CountUnrouted();
            return;
        }

        route.Counters.CountIn();
        var replay = _replayUntil.Count > 0 && IsReplay(partition, input.Source.Offset);
        _pending.Clear();
        try
        {
            route.Chain(new RecordContext(input, route));
        }
        catch (StepFailedException ex)
        {
            _pending.Clear();
            if (!replay)
            {
                var reason = Classify(ex);
                route.Counters.CountDeadLetter(reason.ErrorClass);
                outputs.Add(new PipelineOutput(PipelineOutputKind.DeadLetter, DeadLetterRecord(input, route, reason), route.Name, null, reason));
            }
        }

        if (replay)
        {
            route.Counters.CountReplayed();
            _pending.Clear();
            return;
        }

        foreach (var context in _pending)
        {
            var late = context.Kind == PipelineOutputKind.Late;
            route.Counters.CountOutput(context.Kind);
            outputs.Add(new PipelineOutput(
                context.Kind,
                context.ToRecord(route.Destination(input.Source.Topic, late)),
                route.Name,
                late ? route.LateLane : route.Lane,
                null));
        }

        _pending.Clear();
    }

    /// <summary>Processes one record and returns its outputs (convenience overload; allocates a list).</summary>
    /// <param name="input">The consumed record.</param>
    /// <returns>The outputs, in order.</returns>
    public IReadOnlyList<PipelineOutput> Process(EdgeRecord input)
    {
        var list = new List<PipelineOutput>(1);
        Process(input, list);
        return list;
    }

    /// <summary>
    /// The lowest offset of <paramref name="partition"/> still held by an open (not yet emitted) window, or null
    /// when none is. After a crash, ingest must re-read the partition from min(buffer resume point, this).
    /// </summary>
    /// <param name="partition">The source partition.</param>
    public long? OldestOpenOffset(SourcePartition partition) =>
        Resolve(partition.Topic)?.Windowed?.GetState(partition).OldestOpenOffset;

    /// <summary>
    /// The checkpoint of <paramref name="partition"/> after the last record processed so far, or null when none
    /// was processed. Persist it only AFTER the outputs of the records before its
    /// <see cref="PipelineCheckpoint.NextOffset"/> are durable (after the buffer's WhenDurableAsync), e.g. in the
    /// buffer's commit metadata or a small fsynced file; an older checkpoint is always safe to restore, a newer one
    /// than the durable outputs is not.
    /// </summary>
    /// <param name="partition">The source partition.</param>
    public PipelineCheckpoint? GetCheckpoint(SourcePartition partition)
    {
        // While re-reading after a restart the rebuilt state is not complete yet: the restored checkpoint is still
        // the newest consistent one.
        if (_replayUntil.TryGetValue(partition, out var replay))
        {
            return replay.Restored;
        }

        if (!_nextOffset.TryGetValue(partition, out var next))
        {
            return null;
        }

        if (Resolve(partition.Topic)?.Windowed is not { } windowed)
        {
            return new PipelineCheckpoint(partition, next, null, null);
        }

        var (open, clock) = windowed.GetState(partition);
        return new PipelineCheckpoint(partition, next, open, clock == long.MinValue ? null : clock);
    }

    /// <summary>
    /// Prepares a fresh pipeline to resume a partition after a restart; call it before the partition's first
    /// record. Outputs of every record before max(<paramref name="durableResumeOffset"/>, checkpoint's NextOffset)
    /// are treated as already durable and discarded when those records are re-read; windows are rebuilt from the
    /// checkpoint and emitted exactly as an uninterrupted run would (docs/pipeline.md, "Exactly-once with windows").
    /// </summary>
    /// <param name="partition">The source partition.</param>
    /// <param name="durableResumeOffset">The buffer's resume point for the partition (one past the highest offset durable in it), or null when the buffer has none.</param>
    /// <param name="checkpoint">The newest persisted checkpoint of the partition, or null when none was persisted.</param>
    /// <returns>
    /// The offset to resume consuming at, or null when nothing is known about the partition (use the consumer's
    /// default). For a route with a windowed step and no checkpoint this is 0 (everything the edge broker retains).
    /// </returns>
    public long? Restore(SourcePartition partition, long? durableResumeOffset, PipelineCheckpoint? checkpoint)
    {
        if (checkpoint is not null && checkpoint.Partition != partition)
        {
            throw new ArgumentException($"the checkpoint is for {checkpoint.Partition}, not {partition}", nameof(checkpoint));
        }

        var boundary = Math.Max(durableResumeOffset ?? long.MinValue, checkpoint?.NextOffset ?? long.MinValue);
        _hasLastPartition = false;
        if (boundary == long.MinValue)
        {
            return null;
        }

        long from;
        if (Resolve(partition.Topic)?.Windowed is { } windowed)
        {
            windowed.Restore(partition, checkpoint?.ClockMs ?? long.MinValue);
            from = checkpoint?.ReplayFromOffset ?? 0;
        }
        else
        {
            from = boundary;
        }

        if (from < boundary)
        {
            _replayUntil[partition] = (boundary, checkpoint);
        }
        else
        {
            _replayUntil.Remove(partition);
        }

        _nextOffset[partition] = boundary;
        return from;
    }

    private bool IsReplay(SourcePartition partition, long offset)
    {
        if (!_replayUntil.TryGetValue(partition, out var until))
        {
            return false;
        }

        if (offset < until.Boundary)
        {
            return true;
        }

        _replayUntil.Remove(partition);
        return false;
    }

    private void TrackOffset(SourcePartition partition, long offset)
    {
        // The same partition usually comes many times in a row: skip the dictionary's string hashing then.
        if (_hasLastPartition && _lastPartition == partition)
        {
            ref var slot = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_nextOffset, partition, out _);
            slot = Math.Max(slot, offset + 1);
            return;
        }

        _nextOffset[partition] = Math.Max(_nextOffset.GetValueOrDefault(partition), offset + 1);
        _lastPartition = partition;
        _hasLastPartition = true;
    }

    private RouteInfo? Resolve(string topic)
    {
        if (_routeByTopic.TryGetValue(topic, out var route))
        {
            return route;
        }

        route = _routes.FirstOrDefault(r => r.Matches(topic));
        _routeByTopic[topic] = route;
        return route;
    }

    private static DeadLetterReason Classify(StepFailedException ex)
    {
        var cause = ex.InnerException!;
        var errorClass = cause is PipelineDataException data ? data.ErrorClass : cause.GetType().Name;
        return new DeadLetterReason(errorClass, cause.Message, ex.Step);
    }

    private static EdgeRecord DeadLetterRecord(EdgeRecord input, RouteInfo route, DeadLetterReason reason)
    {
        static RecordHeader H(string name, string value) => new(name, System.Text.Encoding.UTF8.GetBytes(value));
        var headers = new List<RecordHeader>(input.Headers.Count + 4);
        headers.AddRange(input.Headers);
        headers.Add(H(PipelineHeaders.DeadLetterRoute, route.Name));
        headers.Add(H(PipelineHeaders.DeadLetterStep, reason.Step ?? string.Empty));
        headers.Add(H(PipelineHeaders.DeadLetterErrorClass, reason.ErrorClass));
        headers.Add(H(PipelineHeaders.DeadLetterError, reason.Message));
        return new EdgeRecord(input.Source, input.TimestampMs, input.Key, input.Value, headers, null);
    }

    private sealed class StepFailedException(string step, Exception inner) : Exception(inner.Message, inner)
    {
        public string Step { get; } = step;
    }
}
