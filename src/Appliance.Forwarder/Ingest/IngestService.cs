using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Kafka;
using Appliance.Forwarder.Operations;
using Appliance.Forwarder.Options;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Ingest;

/// <summary>
/// Consumes the routed edge topics and appends every record to its lane. Positions: each partition is assigned at
/// the buffer's resume point (what is durable in the buffer), not at the group offset; group offsets
/// are committed only after the buffer made the records durable, for lag monitoring. A full <c>block</c> lane
/// pauses its partitions; when space frees up they are seeked back to the first record not taken and resumed.
/// </summary>
public sealed class IngestService : BackgroundService
{
    private readonly BufferHost _bufferHost;
    private readonly RouteTable _routes;
    private readonly IRecordProcessor _processor;
    // No route has steps: a record's only output is itself, to its route's lane (the in-place path may take it).
    private readonly bool _passThrough;
    private readonly ForwarderConfiguration _config;
    private readonly ForwarderHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // How often the consumer lag is measured for the operations surface (one background ListOffsets request).
    private static readonly TimeSpan LagInterval = TimeSpan.FromSeconds(1);

    // Edge client errors since the last record was taken (one warning per outage, see the error handler); written by
    // the client's error callback as well, hence Interlocked.
    private int _edgeErrors;

    // State below is touched only by the ingest thread (including the rebalance callbacks, which run inside Consume).
    // Written for every record taken: see PartitionKeyComparer.
    private readonly Dictionary<TopicPartition, long> _next = new(new TopicPartitionComparer());
    private Task<ListOffsetsResult>? _endOffsets;
    private readonly Dictionary<TopicPartition, string> _pausedLaneOf = [];
    private readonly Dictionary<TopicPartition, long> _seekOnResume = [];
    private readonly Dictionary<string, (Task Space, long SinceMs)> _pausedLanes = new(StringComparer.Ordinal);
    private readonly Dictionary<SourcePosition, (List<ProcessedRecord> Outputs, int Next)> _partiallyTaken = [];
    private readonly HashSet<string> _unrouted = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Topic, int Partition), TopicPartition> _partitions = [];
    private readonly List<ProcessedRecord> _outputs = [];
    private readonly HashSet<TopicPartition> _dirty = [];
    private readonly HashSet<TopicPartition> _progressDirty = [];
    private IProducer<byte[]?, byte[]?>? _deadLetterProducer;
    private int _deadLettersInFlight;
    private string? _deadLetterError;
    private readonly HashSet<TopicPartition> _assigned = [];
    private DurableBuffer? _buffer;

    /// <summary>Creates the ingest.</summary>
    public IngestService(BufferHost bufferHost, RouteTable routes, IRecordProcessor processor, IOptions<ForwarderConfiguration> config, ForwarderHealth health, TimeProvider time, ILogger<IngestService> logger, ForwarderActivity? activity = null)
    {
        _activity = activity;
        ArgumentNullException.ThrowIfNull(config);
        _bufferHost = bufferHost;
        _routes = routes;
        _processor = processor;
        _passThrough = processor is PassThroughProcessor;
        _config = config.Value;
        _health = health;
        _time = time;
        _logger = logger;
    }

    /// <summary>Records taken from the edge (appended or accounted), since start.</summary>
    public long RecordsIngested => Interlocked.Read(ref _ingested);

    private long _ingested;

    /// <summary>Whether the ingest polls the edge consumer directly through librdkafka (<see cref="DirectConsumer"/>).</summary>
    internal bool ConsumesDirectly { get; private set; }

    private readonly ForwarderActivity? _activity;

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(async () =>
    {
        try
        {
            await RunAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _health.Fail("ingest", e);
        }
    }, CancellationToken.None);

    private async Task RunAsync(CancellationToken ct)
    {
        _buffer = _bufferHost.Buffer;
        var config = KafkaSettings.EdgeConsumer(_config.Edge);
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config)
            .SetKeyDeserializer(Deserializers.ByteArray)
            .SetValueDeserializer(Deserializers.ByteArray)
            .SetErrorHandler((_, e) =>
            {
                _activity?.EdgeError(e.Code == ErrorCode.Local_AllBrokersDown);
                // librdkafka reports every failed reconnect: one warning per outage, the repeats at debug level, so
                // a broker outage does not flood the journal (and its rate limit does not hide other lines).
                if (Interlocked.Increment(ref _edgeErrors) == 1 || e.IsFatal)
                {
                    Log.EdgeError(_logger, e.Reason, e.Code.ToString());
                }
                else
                {
                    Log.EdgeErrorRepeated(_logger, e.Reason, e.Code.ToString());
                }
            })
            .SetLogHandler((_, m) => Log.Client(_logger, m))
            .Build();
        using var admin = new AdminClientBuilder(KafkaSettings.EdgeAdmin(_config.Edge)).SetLogHandler((_, m) => Log.Client(_logger, m)).Build();
        using var deadLetters = _processor.HasProgress ? new ProducerBuilder<byte[]?, byte[]?>(KafkaSettings.EdgeDeadLetterProducer(_config.Edge))
            .SetErrorHandler((_, e) => Log.EdgeError(_logger, e.Reason, e.Code.ToString()))
            .SetLogHandler((_, m) => Log.Client(_logger, m))
            .Build() : null;
        _deadLetterProducer = deadLetters;
        using var direct = _config.Edge.DirectConsume ? DirectConsumer.TryCreate(consumer) : null;
        ConsumesDirectly = direct is not null;
        Log.Subscribed(_logger, string.Join(", ", _routes.Subscription), direct is not null ? "directly through librdkafka" : "through Confluent.Kafka");
        var lastCommit = _time.GetTimestamp();
        long lastRefresh = 0;
        long lastLag = 0;
        try
        {
            while (!ct.IsCancellationRequested)
            {
                if (lastRefresh == 0 || _time.GetElapsedTime(lastRefresh).TotalMilliseconds >= _config.Edge.TopicRefreshIntervalMs)
                {
                    AssignNewPartitions(consumer, admin);
                    lastRefresh = _time.GetTimestamp();
                }

                ResumeLanesWithSpace(consumer);
                var taken = 0;
                while (taken < _config.Edge.MaxPollRecords)
                {
                    var polled = Poll(consumer, direct, taken == 0 ? 100 : 0, out var record, out var takenInPlace);
                    if (polled == PollResult.PartitionEof)
                    {
                        continue;
                    }

                    if (polled != PollResult.Record)
                    {
                        break;
                    }

                    if (!takenInPlace)
                    {
                        await TakeAsync(consumer, record, ct);
                    }

                    taken++;
                }

                if (taken > 0)
                {
                    // Group commit: the batch is durable before anything about it is acknowledged upstream.
                    await _buffer.WhenDurableAsync(ct);
                    await StoreProgressAsync(ct);
                }

                if (_dirty.Count > 0 && _time.GetElapsedTime(lastCommit).TotalMilliseconds >= _config.Edge.OffsetCommitIntervalMs)
                {
                    CommitOffsets(consumer);
                    lastCommit = _time.GetTimestamp();
                }

                if (_activity is not null && _time.GetElapsedTime(lastLag) >= LagInterval)
                {
                    MeasureLag(consumer, admin);
                    lastLag = _time.GetTimestamp();
                }
            }
        }
        finally
        {
            if (!_buffer.IsFaulted)
            {
                try
                {
                    await _buffer.WhenDurableAsync(CancellationToken.None);
                    CommitOffsets(consumer);
                }
                catch (Exception e) when (e is BufferException or KafkaException or ObjectDisposedException)
                {
                    Log.OffsetCommitFailed(_logger, e.Message);
                }
            }

            consumer.Close();
        }
    }

    /// <summary>
    /// The next record or event from the edge consumer, directly from librdkafka when <paramref name="direct"/> is
    /// set, else through Confluent.Kafka. A consumer error the client recovers from is logged and ends the poll batch.
    /// On the direct path a record that needs nothing but an append (see <see cref="TryTakeInPlace"/>) is taken here,
    /// straight from librdkafka's memory (<paramref name="takenInPlace"/>); any other is copied into
    /// <paramref name="record"/> for <see cref="TakeAsync"/>.
    /// </summary>
    private PollResult Poll(IConsumer<byte[]?, byte[]?> consumer, DirectConsumer? direct, int timeoutMs, out ConsumedRecord record, out bool takenInPlace)
    {
        record = default;
        takenInPlace = false;
        if (direct is not null)
        {
            var result = direct.PollInPlace(timeoutMs, out var native, out var error);
            using (native)
            {
                if (error is not null)
                {
                    Log.EdgeError(_logger, error.Reason, error.Code.ToString());
                }
                else if (result == PollResult.Record)
                {
                    takenInPlace = TryTakeInPlace(native);
                    record = takenInPlace ? default : native.ToRecord();
                }
            }

            return result;
        }

        ConsumeResult<byte[]?, byte[]?>? r;
        try
        {
            r = consumer.Consume(timeoutMs);
        }
        catch (ConsumeException e) when (!e.Error.IsFatal)
        {
            Log.EdgeError(_logger, e.Error.Reason, e.Error.Code.ToString());
            return PollResult.Error;
        }

        if (r is null)
        {
            return PollResult.None;
        }

        if (r.IsPartitionEOF)
        {
            return PollResult.PartitionEof;
        }

        record = ConsumedRecord.From(r);
        return PollResult.Record;
    }

    private TopicPartition Partition(string topic, int partition)
    {
        // One TopicPartition per partition for the dictionaries below (the same topic string, so lookups compare by reference).
        ref var tp = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_partitions, (topic, partition), out var exists);
        if (!exists)
        {
            tp = new TopicPartition(topic, partition);
        }

        return tp!;
    }

    /// <summary>
    /// Takes a record of a pass-through route (no steps) by appending it from librdkafka's memory, when nothing else
    /// is needed: its partition is not paused, no record waits with outputs a full lane refused, and the lane takes it
    /// without waiting or applying its full policy (<see cref="BufferLane.TryAppend"/>). False, with nothing taken,
    /// otherwise: <see cref="TakeAsync"/> handles it.
    /// </summary>
    private bool TryTakeInPlace(DirectConsumer.NativeRecord r)
    {
        if (!_passThrough || _partiallyTaken.Count > 0)
        {
            return false;
        }

        // Records come in runs of one partition (a fetch response): its partition, route and lane are those of the
        // record before, found without hashing the topic name again.
        var last = _lastTaken;
        if (last is null || !ReferenceEquals(last.Topic, r.Topic) || last.Partition != r.Partition)
        {
            var resolved = _routes.Resolve(r.Topic);
            last = _lastTaken = new LastTaken(r.Topic, r.Partition, Partition(r.Topic, r.Partition), resolved, resolved is null ? null : _buffer!.Lane(resolved.Lane));
        }

        var tp = last.Tp;
        if ((_pausedLaneOf.Count > 0 && _pausedLaneOf.ContainsKey(tp)) || last.Route is not { } route || last.Lane is not { } lane)
        {
            return false;
        }

        var headers = (IReadOnlyList<RecordHeader>?)r.ReadHeaders() ?? [];
        if (!lane.TryAppend(new SourcePosition(tp.Topic, r.Partition, r.Offset), r.TimestampMs, r.Key, r.KeyIsNull, r.Value, r.ValueIsNull, headers, route.DestinationTopic, out _))
        {
            return false;
        }

        _activity?.Ingested(lane.Name, r.Key.Length + r.Value.Length);
        MarkTaken(tp, r.Offset);
        return true;
    }

    /// <summary>The partition of the record last taken in place, with its route and lane (null: the topic has no route).</summary>
    private sealed record LastTaken(string Topic, int Partition, TopicPartition Tp, ResolvedRoute? Route, BufferLane? Lane);

    private LastTaken? _lastTaken;

    private async ValueTask TakeAsync(IConsumer<byte[]?, byte[]?> consumer, ConsumedRecord r, CancellationToken ct)
    {
        var tp = Partition(r.Topic, r.Partition);
        if (_pausedLaneOf.Count > 0 && _pausedLaneOf.ContainsKey(tp))
        {
            // Fetched before the pause took effect: not taken; the partition is seeked back here on resume.
            _seekOnResume.TryAdd(tp, r.Offset);
            return;
        }

        var route = _routes.Resolve(r.Topic);
        if (route is null)
        {
            if (_unrouted.Add(r.Topic))
            {
                Log.NoRoute(_logger, r.Topic);
            }

            MarkTaken(tp, r.Offset);
            return;
        }

        var pos = new SourcePosition(tp.Topic, r.Partition, r.Offset);
        var record = new EdgeRecord(pos, r.TimestampMs, r.Key, r.Value, r.Headers, route.DestinationTopic);
        // A record whose outputs a full lane refused is not processed again (the pipeline's windows would count it
        // twice): its remaining outputs are appended from where they stopped.
        if (_partiallyTaken.Count == 0 || !_partiallyTaken.Remove(pos, out var pending))
        {
            _outputs.Clear();
            pending = (_outputs, 0);
            _processor.Process(route, record, _outputs);
        }

        for (var i = pending.Next; i < pending.Outputs.Count; i++)
        {
            var output = pending.Outputs[i];
            if (output.Lane is null)
            {
                ProduceDeadLetter(output.Record);
                continue;
            }

            var lane = _buffer!.Lane(output.Lane);
            var result = await lane.AppendAsync(output.Record, ct);

            // AlreadyBuffered (re-read after a restart, held by the lane) counts as accepted.
            if (result.Status == AppendStatus.Blocked)
            {
                // _outputs is reused for the next record: the pending outputs keep a list of their own.
                _partiallyTaken[pos] = (ReferenceEquals(pending.Outputs, _outputs) ? [.. _outputs] : pending.Outputs, i);
                PauseLane(consumer, lane, tp, r.Offset);
                return;
            }

            _activity?.Ingested(lane.Name, (output.Record.Key?.Length ?? 0) + (output.Record.Value?.Length ?? 0));
        }

        MarkTaken(tp, r.Offset);
    }

    private void MarkTaken(TopicPartition tp, long offset)
    {
        if (Volatile.Read(ref _edgeErrors) != 0)
        {
            Log.EdgeRecovered(_logger, Interlocked.Exchange(ref _edgeErrors, 0));
        }

        _next[tp] = offset + 1;
        // The sets already hold the partition when it was the last one marked and neither set lost members since.
        if (!ReferenceEquals(tp, _lastMarked) || _lastMarkedGeneration != _dirtyGeneration)
        {
            _dirty.Add(tp);
            _progressDirty.Add(tp);
            _lastMarked = tp;
            _lastMarkedGeneration = _dirtyGeneration;
        }

        Interlocked.Increment(ref _ingested);
    }

    private TopicPartition? _lastMarked;
    private int _lastMarkedGeneration;

    // Counts the times _dirty or _progressDirty lost members (see MarkTaken).
    private int _dirtyGeneration;

    private void PauseLane(IConsumer<byte[]?, byte[]?> consumer, BufferLane lane, TopicPartition blocked, long offset)
    {
        var partitions = consumer.Assignment.Where(p => _routes.Resolve(p.Topic)?.Lane == lane.Name && !_pausedLaneOf.ContainsKey(p)).ToList();
        if (!partitions.Contains(blocked) && !_pausedLaneOf.ContainsKey(blocked))
        {
            partitions.Add(blocked);
        }

        consumer.Pause(partitions);
        foreach (var p in partitions)
        {
            _pausedLaneOf[p] = lane.Name;
        }

        _seekOnResume[blocked] = offset;
        if (!_pausedLanes.ContainsKey(lane.Name))
        {
            _pausedLanes[lane.Name] = (lane.WaitForSpaceAsync(), _time.GetUtcNow().ToUnixTimeMilliseconds());
            Log.LanePaused(_logger, lane.Name, string.Join(", ", partitions));
        }
    }

    private void ResumeLanesWithSpace(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_pausedLanes.Count == 0)
        {
            return;
        }

        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (lane, (space, since)) in _pausedLanes.ToList())
        {
            // The space signal may have fired between the refusal and the wait; retry at least every second anyway.
            if (!space.IsCompleted && nowMs - since < 1000)
            {
                continue;
            }

            var partitions = _pausedLaneOf.Where(kv => kv.Value == lane).Select(kv => kv.Key).ToList();
            foreach (var p in partitions)
            {
                // Seek every paused partition to its first record not taken: the refused or skipped one, else the
                // one after the last taken (records fetched before the pause may have been dropped by the client).
                if (_seekOnResume.Remove(p, out var offset))
                {
                    consumer.Seek(new TopicPartitionOffset(p, offset));
                }
                else if (_next.TryGetValue(p, out var next))
                {
                    consumer.Seek(new TopicPartitionOffset(p, next));
                }

                _pausedLaneOf.Remove(p);
            }

            consumer.Resume(partitions);
            _pausedLanes.Remove(lane);
            Log.LaneResumed(_logger, lane);
        }
    }

    /// <summary>
    /// Assigns every partition of every routed topic (manual assignment: one forwarder per site, and the buffer, not
    /// the group, owns the positions, so there is no rebalance to wait for after a crash). New topics matching a
    /// route's regular expression and new partitions are picked up at each refresh.
    /// </summary>
    private void AssignNewPartitions(IConsumer<byte[]?, byte[]?> consumer, IAdminClient admin)
    {
        Metadata md;
        try
        {
            md = admin.GetMetadata(TimeSpan.FromSeconds(5));
        }
        catch (KafkaException e)
        {
            Log.EdgeError(_logger, e.Error.Reason, e.Error.Code.ToString());
            return;
        }

        var resume = _buffer!.GetResumePoints();
        var checkpoints = _buffer.GetSourceCheckpoints();
        var added = new List<TopicPartitionOffset>();
        foreach (var t in md.Topics)
        {
            if (t.Error.IsError || t.Topic.StartsWith("__", StringComparison.Ordinal) || _routes.Resolve(t.Topic) is null)
            {
                continue;
            }

            foreach (var p in t.Partitions)
            {
                var tp = new TopicPartition(t.Topic, p.PartitionId);
                if (!_assigned.Add(tp))
                {
                    continue;
                }

                TopicPartitionOffset tpo;
                string source;
                var sp = new SourcePartition(tp.Topic, tp.Partition.Value);
                long? durable = resume.TryGetValue(sp, out var r) ? r : null;
                var from = _processor.Restore(sp, durable, checkpoints.GetValueOrDefault(sp));
                if (from is { } f)
                {
                    // Without steps this is the buffer's resume point; with a windowed step it may be earlier (the
                    // first record of the oldest window open at the last checkpoint), see docs/pipeline.md.
                    tpo = new TopicPartitionOffset(tp, f);
                    source = durable == f ? "buffer" : "pipeline restore";
                }
                else
                {
                    // Never buffered: the group's committed offset, else auto.offset.reset (earliest by default).
                    tpo = new TopicPartitionOffset(tp, Offset.Unset);
                    source = "group offset or earliest";
                }

                Log.PartitionAssigned(_logger, tp.ToString(), tpo.Offset.ToString(), source);
                added.Add(tpo);
            }
        }

        if (added.Count > 0)
        {
            consumer.IncrementalAssign(added);
        }
    }

    private void ProduceDeadLetter(EdgeRecord record)
    {
        var topic = record.DestinationTopic!;
        var message = new Message<byte[]?, byte[]?> { Key = record.Key, Value = record.Value, Timestamp = new Timestamp(record.TimestampMs, TimestampType.CreateTime) };
        if (record.Headers.Count > 0)
        {
            message.Headers = [];
            foreach (var h in record.Headers)
            {
                message.Headers.Add(h.Key, h.Value);
            }
        }

        Interlocked.Increment(ref _deadLettersInFlight);
        _deadLetterProducer!.Produce(topic, message, report =>
        {
            if (report.Error.IsError)
            {
                Volatile.Write(ref _deadLetterError, $"{report.Error.Code}: {report.Error.Reason}");
                Log.DeadLetterFailed(_logger, topic, report.Error.Reason);
            }

            Interlocked.Decrement(ref _deadLettersInFlight);
        });
    }

    /// <summary>
    /// After a durable batch: waits for the batch's dead letters to be acknowledged by the edge cluster, then stores
    /// the next offset (which also covers filtered and dead-lettered records) and the processor's checkpoint of every
    /// partition that advanced. A partition with a record whose outputs are only partly appended keeps its older
    /// progress (its checkpoint would claim outputs that are not durable yet).
    /// </summary>
    private async ValueTask StoreProgressAsync(CancellationToken ct)
    {
        if (!_processor.HasProgress || _progressDirty.Count == 0)
        {
            return;
        }

        if (_deadLetterProducer is not null && Volatile.Read(ref _deadLettersInFlight) > 0)
        {
            while (_deadLetterProducer.Flush(TimeSpan.FromMilliseconds(500)) > 0)
            {
                ct.ThrowIfCancellationRequested();
            }
        }

        if (Volatile.Read(ref _deadLetterError) is { } error)
        {
            // Not acknowledged: stop before the dead-lettered offsets are marked consumed; they are processed again on restart.
            throw new KafkaException(new Error(ErrorCode.Local_Fail, $"dead letter not delivered to the edge cluster: {error}"));
        }

        var blocked = _partiallyTaken.Keys.Select(p => new TopicPartition(p.Topic, p.Partition)).ToHashSet();
        var next = new Dictionary<SourcePartition, long>();
        var checkpoints = new Dictionary<SourcePartition, string>();
        foreach (var tp in _progressDirty)
        {
            if (blocked.Contains(tp) || !_next.TryGetValue(tp, out var n))
            {
                continue;
            }

            var sp = new SourcePartition(tp.Topic, tp.Partition.Value);
            next[sp] = n;
            if (_processor.GetCheckpoint(sp) is { } checkpoint)
            {
                checkpoints[sp] = checkpoint;
            }
        }

        _progressDirty.RemoveWhere(tp => !blocked.Contains(tp));
        _dirtyGeneration++;
        if (next.Count > 0)
        {
            await _buffer!.StoreSourceProgressAsync(next, checkpoints, ct);
        }
    }

    /// <summary>
    /// Edge consumer lag per assigned partition: the partition's end (ListOffsets, read_committed: the last stable
    /// offset) minus the next offset to take. The client's cached watermarks are not used: a partition paused for a
    /// full Block lane is no longer fetched, and its cached watermark would hide exactly the lag that matters then.
    /// The query runs in the background (one request per broker) and is reported when it completes, so a slow or
    /// unreachable edge broker never stalls the ingest loop; its result is at most one interval old.
    /// </summary>
    private void MeasureLag(IConsumer<byte[]?, byte[]?> consumer, IAdminClient admin)
    {
        if (_endOffsets is { IsCompleted: true } done)
        {
            _endOffsets = null;
            if (done.IsCompletedSuccessfully)
            {
                var lag = new List<Core.Status.PartitionLag>(done.Result.ResultInfos.Count);
                foreach (var info in done.Result.ResultInfos)
                {
                    var end = info.TopicPartitionOffsetError;
                    if (end.Error.IsError || end.Offset == Offset.Unset || !_assigned.Contains(end.TopicPartition))
                    {
                        continue;
                    }

                    var next = _next.TryGetValue(end.TopicPartition, out var n) ? n
                        : consumer.Position(end.TopicPartition) is { } p && p != Offset.Unset ? p.Value
                        : (long?)null;
                    if (next is { } from)
                    {
                        lag.Add(new Core.Status.PartitionLag(end.Topic, end.Partition.Value, Math.Max(0, end.Offset.Value - from)));
                    }
                }

                _activity!.EdgeLagMeasured(lag);
            }
            else
            {
                // The edge broker did not answer (it is down, or busy): keep the last report; EdgeError tells the rest.
                Log.LagQueryFailed(_logger, done.Exception?.GetBaseException().Message ?? "cancelled");
            }
        }

        if (_endOffsets is null && _assigned.Count > 0)
        {
            _endOffsets = admin.ListOffsetsAsync(
                _assigned.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Latest() }),
                new ListOffsetsOptions { IsolationLevel = IsolationLevel.ReadCommitted, RequestTimeout = TimeSpan.FromSeconds(5) });
        }
    }

    private void CommitOffsets(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_dirty.Count == 0)
        {
            return;
        }

        var offsets = _dirty.Where(_next.ContainsKey).Select(tp => new TopicPartitionOffset(tp, _next[tp])).ToList();
        _dirty.Clear();
        _dirtyGeneration++;
        try
        {
            consumer.Commit(offsets);
        }
        catch (KafkaException e)
        {
            Log.OffsetCommitFailed(_logger, e.Error.Reason);
        }
    }
}
