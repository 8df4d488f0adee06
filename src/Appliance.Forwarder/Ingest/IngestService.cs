using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Operations;
using Appliance.Forwarder.Options;
using Confluent.Kafka;
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
    private readonly ForwarderConfiguration _config;
    private readonly ForwarderHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    // State below is touched only by the ingest thread (including the rebalance callbacks, which run inside Consume).
    private readonly Dictionary<TopicPartition, long> _next = [];
    private readonly Dictionary<TopicPartition, string> _pausedLaneOf = [];
    private readonly Dictionary<TopicPartition, long> _seekOnResume = [];
    private readonly Dictionary<string, (Task Space, long SinceMs)> _pausedLanes = new(StringComparer.Ordinal);
    private readonly Dictionary<SourcePosition, int> _partiallyTaken = [];
    private readonly HashSet<string> _unrouted = new(StringComparer.Ordinal);
    private readonly List<EdgeRecord> _outputs = [];
    private readonly HashSet<TopicPartition> _dirty = [];
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
        _config = config.Value;
        _health = health;
        _time = time;
        _logger = logger;
    }

    /// <summary>Records taken from the edge (appended or accounted), since start.</summary>
    public long RecordsIngested => Interlocked.Read(ref _ingested);

    private long _ingested;
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
                Log.EdgeError(_logger, e.Reason, e.Code.ToString());
            })
            .SetLogHandler((_, m) => Log.Client(_logger, m))
            .Build();
        using var admin = new AdminClientBuilder(KafkaSettings.EdgeAdmin(_config.Edge)).SetLogHandler((_, m) => Log.Client(_logger, m)).Build();
        Log.Subscribed(_logger, string.Join(", ", _routes.Subscription));
        var lastCommit = _time.GetTimestamp();
        long lastRefresh = 0;
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
                    ConsumeResult<byte[]?, byte[]?>? r;
                    try
                    {
                        r = consumer.Consume(taken == 0 ? TimeSpan.FromMilliseconds(100) : TimeSpan.Zero);
                    }
                    catch (ConsumeException e) when (!e.Error.IsFatal)
                    {
                        Log.EdgeError(_logger, e.Error.Reason, e.Error.Code.ToString());
                        break;
                    }

                    if (r is null)
                    {
                        break;
                    }

                    if (r.IsPartitionEOF)
                    {
                        continue;
                    }

                    await TakeAsync(consumer, r, ct);
                    taken++;
                }

                if (taken > 0)
                {
                    // Group commit: the batch is durable before anything about it is acknowledged upstream.
                    await _buffer.WhenDurableAsync(ct);
                }

                if (_dirty.Count > 0 && _time.GetElapsedTime(lastCommit).TotalMilliseconds >= _config.Edge.OffsetCommitIntervalMs)
                {
                    CommitOffsets(consumer);
                    lastCommit = _time.GetTimestamp();
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

    private async ValueTask TakeAsync(IConsumer<byte[]?, byte[]?> consumer, ConsumeResult<byte[]?, byte[]?> r, CancellationToken ct)
    {
        var tp = r.TopicPartition;
        if (_pausedLaneOf.ContainsKey(tp))
        {
            // Fetched before the pause took effect: not taken; the partition is seeked back here on resume.
            _seekOnResume.TryAdd(tp, r.Offset.Value);
            return;
        }

        var route = _routes.Resolve(r.Topic);
        if (route is null)
        {
            if (_unrouted.Add(r.Topic))
            {
                Log.NoRoute(_logger, r.Topic);
            }

            MarkTaken(tp, r.Offset.Value);
            return;
        }

        var pos = new SourcePosition(r.Topic, r.Partition.Value, r.Offset.Value);
        var headers = r.Message.Headers is { Count: > 0 } hs ? hs.Select(h => new RecordHeader(h.Key, h.GetValueBytes())).ToList() : null;
        var record = new EdgeRecord(pos, r.Message.Timestamp.UnixTimestampMs, r.Message.Key, r.Message.Value, headers, route.DestinationTopic);
        _outputs.Clear();
        _processor.Process(route, record, _outputs);
        var lane = _buffer!.Lane(route.Lane);
        _partiallyTaken.Remove(pos, out var skip);
        for (var i = skip; i < _outputs.Count; i++)
        {
            var result = await lane.AppendAsync(_outputs[i], ct);
            if (result.Status == AppendStatus.Blocked)
            {
                if (i > 0)
                {
                    _partiallyTaken[pos] = i;
                }

                PauseLane(consumer, lane, tp, r.Offset.Value);
                return;
            }

            _activity?.Ingested(lane.Name, (_outputs[i].Key?.Length ?? 0) + (_outputs[i].Value?.Length ?? 0));
        }

        MarkTaken(tp, r.Offset.Value);
    }

    private void MarkTaken(TopicPartition tp, long offset)
    {
        _next[tp] = offset + 1;
        _dirty.Add(tp);
        Interlocked.Increment(ref _ingested);
    }

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
                if (resume.TryGetValue(new SourcePartition(tp.Topic, tp.Partition.Value), out var r))
                {
                    tpo = new TopicPartitionOffset(tp, r);
                    source = "buffer";
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

    private void CommitOffsets(IConsumer<byte[]?, byte[]?> consumer)
    {
        if (_dirty.Count == 0)
        {
            return;
        }

        var offsets = _dirty.Where(_next.ContainsKey).Select(tp => new TopicPartitionOffset(tp, _next[tp])).ToList();
        _dirty.Clear();
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
