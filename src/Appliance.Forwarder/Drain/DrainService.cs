using System.Diagnostics;
using System.Text;
using System.Threading.RateLimiting;
using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Operations;
using Appliance.Forwarder.Options;
using Appliance.Forwarder.Uplink;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Drain;

/// <summary>
/// Sends buffered records to central by priority (deficit round robin by bytes over the lanes).
/// Exactly-once mode: each round (one batch from each lane whose turn it is) is produced in one transaction together
/// with one checkpoint per lane (key <c>{site}/{lane}</c>, value: incarnation and next buffer address) in the
/// checkpoint topic; after the commit the leases are completed, which truncates the buffer. A session starts with
/// InitTransactions (which resolves whatever the previous producer left open) and then reads the checkpoints back
/// (read_committed): a lane whose checkpoint is ahead of the local begin is skipped forward, closing the window
/// between the central commit and the local truncation. Any failure ends the session: leases are abandoned (the
/// readers rewind), the producer is dropped, and the session restarts with backoff, which also covers a commit whose
/// outcome is unknown.
/// </summary>
public sealed class DrainService : BackgroundService
{
    private readonly BufferHost _bufferHost;
    private readonly ForwarderConfiguration _config;
    private readonly UplinkMonitor _uplink;
    private readonly ForwarderHealth _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly byte[] _siteBytes;
    private readonly TopicTemplate _defaultTemplate;
    private readonly string _gapTopic;
    private readonly Dictionary<(string Source, string? Destination, string Lane), (TopicPartition Destination, byte[] SourceTopic)> _destinations = [];
    private readonly TopicPartition _gapDestination;
    private readonly TopicPartition _checkpointDestination;
    private static readonly TimeSpan IdlePoll = TimeSpan.FromMilliseconds(5);
    private (long Read, long Committed)[] _emptyAt = [];
    private long _delivered;
    private long _gapsDelivered;
    private long _skipped;
    private readonly ForwarderActivity? _activity;
    private long _produceTicks;
    private long _commitTicks;
    private long _transactions;

    private long _readTicks;
    private long _idleTicks;

    /// <summary>
    /// Transactions (or at-least-once batches) completed, and where the drain's time went: reading batches from the
    /// buffer, producing them, committing (waiting for central's acknowledgement), idle (no lane had data): for
    /// benchmarks and diagnostics.
    /// </summary>
    public DrainTimes DeliveryTimes => new(Interlocked.Read(ref _transactions), Elapsed(ref _readTicks), Elapsed(ref _produceTicks), Elapsed(ref _commitTicks), Elapsed(ref _idleTicks));

    /// <summary>A sum of timestamp differences as time.</summary>
    private TimeSpan Elapsed(ref long timestampTicks) => Duration(Interlocked.Read(ref timestampTicks));

    /// <summary>A timestamp difference (or a sum of them) as time.</summary>
    private TimeSpan Duration(long timestampTicks) => _time.GetElapsedTime(0, timestampTicks);

    /// <summary>Creates the drain.</summary>
    public DrainService(BufferHost bufferHost, IOptions<ForwarderConfiguration> config, UplinkMonitor uplink, ForwarderHealth health, TimeProvider time, ILogger<DrainService> logger, ForwarderActivity? activity = null)
    {
        _activity = activity;
        ArgumentNullException.ThrowIfNull(config);
        _bufferHost = bufferHost;
        _config = config.Value;
        _uplink = uplink;
        _health = health;
        _time = time;
        _logger = logger;
        _siteBytes = Encoding.UTF8.GetBytes(_config.Site.Id);
        _defaultTemplate = TopicTemplate.TryParse(_config.Central.DestinationTemplate, out _)!;
        _gapTopic = TopicTemplate.TryParse(_config.Central.GapTopic, out _)!.Render(_config.Site.Id, "", "");
        _gapDestination = new TopicPartition(_gapTopic, Partition.Any);
        _checkpointDestination = new TopicPartition(_config.Central.CheckpointTopic, Partition.Any);
    }

    /// <summary>Records delivered to central (committed) since start.</summary>
    public long RecordsDelivered => Interlocked.Read(ref _delivered);

    /// <summary>Records found already delivered (checkpoint ahead of the buffer) and skipped, since start.</summary>
    public long RecordsSkippedByCheckpoint => Interlocked.Read(ref _skipped);

    /// <summary>Test seam, called after each successful commit and before the buffer is truncated.</summary>
    internal Action? AfterCommitForTests { get; set; }

    /// <summary>Whether the current (or last) session produces records directly through librdkafka (<see cref="DirectProducer"/>).</summary>
    internal bool ProducesDirectly { get; private set; }

    /// <summary>Gap markers delivered since start.</summary>
    public long GapMarkersDelivered => Interlocked.Read(ref _gapsDelivered);

    /// <summary>The gap topic of this site.</summary>
    public string GapTopic => _gapTopic;

    /// <inheritdoc />
    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Run(async () =>
    {
        try
        {
            using var limiter = _config.Central.RateLimitBytesPerSecond > 0
                ? new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
                {
                    TokenLimit = (int)Math.Min(int.MaxValue, Math.Max(_config.Central.RateLimitBytesPerSecond, 65536)),
                    TokensPerPeriod = (int)Math.Min(int.MaxValue, Math.Max(1, _config.Central.RateLimitBytesPerSecond / 10)),
                    ReplenishmentPeriod = TimeSpan.FromMilliseconds(100),
                    QueueLimit = int.MaxValue,
                    AutoReplenishment = true,
                })
                : null;
            _emptyAt = new (long, long)[_bufferHost.Buffer.Lanes.Count];
            var scheduler = new DeficitScheduler(_bufferHost.Buffer.Lanes.Select(l => l.Options.Weight).ToList(), _config.Central.QuantumBytes);
            while (!stoppingToken.IsCancellationRequested)
            {
                // One iteration per established session; the pipeline retries failed attempts to establish one.
                await _uplink.Session.ExecuteAsync(async ct => await RunSessionAsync(scheduler, limiter, ct), stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            _health.Fail("drain", e);
        }
    }, CancellationToken.None);

    private async ValueTask RunSessionAsync(DeficitScheduler scheduler, RateLimiter? limiter, CancellationToken ct)
    {
        var buffer = _bufferHost.Buffer;
        var exactlyOnce = _config.Central.Delivery == DeliveryMode.ExactlyOnce;
        IProducer<byte[]?, byte[]?>? producer = null;
        DirectProducer? direct = null;
        try
        {
            // Establishing a session: failures here are retried by the session pipeline with exponential backoff.
            try
            {
                await _uplink.Call.ExecuteAsync(_ => { Probe(); return ValueTask.CompletedTask; }, ct);
                producer = await _uplink.Call.ExecuteAsync(_ => ValueTask.FromResult(StartProducer(exactlyOnce)), ct);
                if (exactlyOnce)
                {
                    await ReconcileAsync(buffer, ct);
                }
            }
            catch (Exception e) when (UplinkMonitor.IsUplinkFailure(e))
            {
                Log.SessionFailed(_logger, e.Message);
                _uplink.ReportFailure(e);
                throw;
            }

            // Records go through librdkafka directly when it can be done (exactly-once only: no per-record reports).
            var wantDirect = exactlyOnce && _config.Central.DirectProduce;
            direct = wantDirect ? DirectProducer.TryCreate(producer) : null;
            ProducesDirectly = direct is not null;
            _uplink.ReportSuccess();
            Log.SessionStarted(_logger, _config.Central.Delivery.ToString(), exactlyOnce ? KafkaSettings.TransactionalId(_config.Central, _config.Site.Id) : "-",
                ProducesDirectly ? "directly through librdkafka" : wantDirect ? "through Confluent.Kafka (the direct path is not available with this client)" : "through Confluent.Kafka");
            while (!ct.IsCancellationRequested)
            {
                await RunRoundAsync(buffer, producer, direct, exactlyOnce, scheduler, limiter, ct);
            }
        }
        catch (Exception e) when (producer is not null && UplinkMonitor.IsUplinkFailure(e))
        {
            // An established session failed: reconnect at once (through the pipeline again). If central is really
            // gone, the circuit breaker opens and establishing fails, which backs off.
            Log.SessionFailed(_logger, e.Message);
            _uplink.ReportFailure(e);
        }
        finally
        {
            direct?.Dispose();
            // Before the producer whose handle it uses. Disposing it waits for its poll thread, up to 100 ms.
            _leaderClient?.Dispose();
            _leaderClient = null;
            if (producer is not null)
            {
                DisposeProducer(producer, exactlyOnce);
            }
        }
    }

    private async ValueTask RunRoundAsync(DurableBuffer buffer, IProducer<byte[]?, byte[]?> producer, DirectProducer? direct, bool exactlyOnce, DeficitScheduler scheduler, RateLimiter? limiter, CancellationToken ct)
    {
        var leases = new List<DeliveryLease>(buffer.Lanes.Count);
        try
        {
            long bytes = 0;
            var lanes = buffer.Lanes;
            var available = new long[lanes.Count];
            for (var i = 0; i < lanes.Count; i++)
            {
                // Committed log bytes past the read address: an upper bound of what the lane can send now.
                // An operator-paused lane takes no turn (and builds no credit) until it is resumed.
                available[i] = _activity?.IsPaused(lanes[i].Name) != true && HasData(i, lanes[i])
                    ? Math.Max(1, lanes[i].CommittedUntilAddress - lanes[i].Reader.ReadAddress)
                    : 0;
            }

            var plan = scheduler.Plan(available, _config.Central.MaxTransactionBytes);
            var readStarted = _time.GetTimestamp();
            for (var i = 0; i < lanes.Count; i++)
            {
                if (plan[i] <= 0)
                {
                    continue;
                }

                var reader = lanes[i].Reader;
                var lease = await reader.ReadForDeliveryAsync(_config.Central.MaxBatchRecords, plan[i], ct);
                if (lease is null)
                {
                    _emptyAt[i] = (reader.ReadAddress, lanes[i].CommittedUntilAddress);
                    scheduler.Charge(i, 0, ranEmpty: true);
                    continue;
                }

                var batch = lease.Batch;
                leases.Add(lease);
                scheduler.Charge(i, batch.PayloadBytes, ranEmpty: batch.PayloadBytes < plan[i] && batch.Entries.Count < _config.Central.MaxBatchRecords);
                bytes += batch.PayloadBytes;
            }

            if (leases.Count == 0)
            {
                await WaitForDataAsync(buffer, ct);
                Interlocked.Add(ref _idleTicks, _time.GetTimestamp() - readStarted);
                return;
            }

            var readTicks = _time.GetTimestamp() - readStarted;
            Interlocked.Add(ref _readTicks, readTicks);

            Array.Fill(_emptyAt, (-1L, -1L));

            if (limiter is not null)
            {
                await AcquireAsync(limiter, bytes, ct);
            }

            if (Interlocked.Exchange(ref _leadersStale, 0) == 1)
            {
                RefreshLeaders(producer);
            }

            var delivered = await _uplink.Call.ExecuteAsync(_ => ValueTask.FromResult(Deliver(producer, direct, leases, exactlyOnce, buffer.Incarnation)), ct);
            // Test seam: throwing here is a crash between the central commit and the local truncation.
            AfterCommitForTests?.Invoke();
            foreach (var lease in leases)
            {
                await lease.CompleteAsync();
            }

            // The activity first: whoever sees the records counted as delivered also sees the commit's time.
            _activity?.Committed(leases.Select(l => l.Batch));
            Interlocked.Add(ref _delivered, delivered.Records);
            if (_logger.IsEnabled(LogLevel.Debug))
            {
                Log.TransactionCommitted(_logger, delivered.Records, bytes, string.Join(",", leases.Select(l => l.Batch.Lane.Name)),
                    Ms(_time.GetTimestamp() - readStarted), Ms(readTicks), Ms(delivered.ProduceTicks), Ms(delivered.CommitTicks));
            }
        }
        finally
        {
            // Completed leases ignore this; abandoned ones rewind their reader.
            foreach (var lease in leases)
            {
                await lease.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// Asks central for the leaders of the topics this session produced to, through the producer's own client, after
    /// the producer lost every broker (an uplink outage). While no broker answered, the producer forgot the leaders of
    /// some partitions, and librdkafka looks for leaderless partitions only once a second: the first transaction
    /// after the uplink returned held its records for those partitions until then, up to a second, critical ones
    /// included (forwarder benchmark, 2026-12-03). A metadata request through the producer's handle updates its
    /// leaders at once. When central does not answer (still down), the transaction waits as it would have, and the
    /// next round asks again.
    /// </summary>
    private void RefreshLeaders(IProducer<byte[]?, byte[]?> producer)
    {
        var topics = _destinations.Values.Select(d => d.Destination.Topic).Append(_checkpointDestination.Topic).Distinct(StringComparer.Ordinal).ToList();
        var started = _time.GetTimestamp();
        try
        {
            // One client for the session: disposing one waits for its poll thread (100 ms, measured), which the
            // first transaction after a reconnection paid until 2026-12-03 (about 90 of its 121-126 ms).
            var admin = _leaderClient ??= new DependentAdminClientBuilder(producer.Handle).Build();
            foreach (var topic in topics)
            {
                admin.GetMetadata(topic, LeaderRefreshTimeout);
            }

            Interlocked.Increment(ref _leaderRefreshes);
            Log.LeadersRefreshed(_logger, topics.Count, Ms(_time.GetTimestamp() - started));
        }
        catch (KafkaException e)
        {
            Volatile.Write(ref _leadersStale, 1);
            Log.CentralTransient(_logger, e.Error.Reason, e.Error.Code.ToString());
        }
    }

    // At most this per topic: central answered the transaction before, so this is normally a millisecond.
    private static readonly TimeSpan LeaderRefreshTimeout = TimeSpan.FromSeconds(2);

    // The session's client for leader requests on the producer's handle (RefreshLeaders); disposed with the session.
    private IAdminClient? _leaderClient;

    // 1 after the producer reported all brokers down, until the next round refreshed the leaders (RefreshLeaders).
    private int _leadersStale;
    private long _leaderRefreshes;

    /// <summary>Whether the producer lost every broker and the leaders are not asked for again yet (for tests).</summary>
    internal bool LeadersStale => Volatile.Read(ref _leadersStale) == 1;

    /// <summary>Times the leaders were asked for again after the producer lost every broker (for tests).</summary>
    internal long LeaderRefreshes => Interlocked.Read(ref _leaderRefreshes);

    /// <summary>A timestamp difference as whole milliseconds.</summary>
    private long Ms(long ticks) => (long)Duration(ticks).TotalMilliseconds;

    /// <summary>What one <see cref="Deliver"/> sent, and how long producing and committing took (timestamp ticks).</summary>
    private readonly record struct Delivery(int Records, long ProduceTicks, long CommitTicks);

    /// <summary>Produces the leased batches (and checkpoints) and waits for central to acknowledge them.</summary>
    private Delivery Deliver(IProducer<byte[]?, byte[]?> producer, DirectProducer? direct, List<DeliveryLease> leases, bool exactlyOnce, string incarnation)
    {
        Error? failure = null;
        void Report(DeliveryReport<byte[]?, byte[]?> r)
        {
            if (r.Error.IsError)
            {
                failure ??= r.Error;
            }
        }

        // In a transaction a failed record makes the commit fail, so no per-record report is needed (and none is
        // paid for: each one pins a handle). At-least-once learns of failures only from the reports.
        Action<DeliveryReport<byte[]?, byte[]?>>? onReport = exactlyOnce ? null : Report;

        var timeout = TimeSpan.FromMilliseconds(_config.Central.TransactionTimeoutMs);
        var nowMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
        if (exactlyOnce)
        {
            producer.BeginTransaction();
        }

        var records = 0;
        var started = _time.GetTimestamp();
        try
        {
            foreach (var lease in leases)
            {
                var batch = lease.Batch;
                var laneName = batch.Lane.Name;
                var laneBytes = Encoding.UTF8.GetBytes(laneName);
                for (var i = 0; i < batch.Entries.Count; i++)
                {
                    // The direct path reads each record in place: no copy of it is made before librdkafka's own.
                    if (direct is not null && batch.TryReadRecord(i, out var view))
                    {
                        var (target, topicBytes) = Destination(view.SourceTopic, view.DestinationTopic, laneName);
                        if (direct.Produce(target.Topic, view, _siteBytes, topicBytes, laneBytes) is var code and not ErrorCode.NoError)
                        {
                            throw new KafkaException(new Error(code));
                        }

                        records++;
                        continue;
                    }

                    var entry = batch.Entries[i];
                    if (entry.Record is { } rec)
                    {
                        var (destination, sourceTopic) = Destination(rec.Source.Topic, rec.DestinationTopic, laneName);
                        var msg = new Message<byte[]?, byte[]?>
                        {
                            Key = rec.Key,
                            Value = rec.Value,
                            Headers = ProvenanceHeaders.Build(rec, _siteBytes, sourceTopic, laneBytes),
                            Timestamp = new Timestamp(rec.TimestampMs, TimestampType.CreateTime),
                        };
                        ProduceWithBackpressure(producer, destination, msg, onReport);
                        records++;
                    }
                    else if (entry.Gap is { } gap)
                    {
                        var msg = new Message<byte[]?, byte[]?> { Key = laneBytes, Value = GapMarkerFormat.ToJson(_config.Site.Id, gap) };
                        ProduceWithBackpressure(producer, _gapDestination, msg, onReport);
                        Interlocked.Increment(ref _gapsDelivered);
                        Log.GapForwarded(_logger, gap.Lane, gap.Reason.ToLabel(), gap.Count, gap.Ranges.Count);
                    }
                }

                if (exactlyOnce)
                {
                    var cp = new Checkpoint(_config.Site.Id, laneName, incarnation, batch.EndAddress, batch.StartAddress, batch.RecordCount, nowMs);
                    ProduceWithBackpressure(producer, _checkpointDestination,
                        new Message<byte[]?, byte[]?> { Key = Encoding.UTF8.GetBytes(Checkpoint.KeyOf(_config.Site.Id, laneName)), Value = cp.ToJson() }, onReport);
                }
            }

            var produced = _time.GetTimestamp();
            Interlocked.Add(ref _produceTicks, produced - started);
            if (exactlyOnce)
            {
                producer.CommitTransaction(AwaitQueueSent(producer, timeout));
            }
            else if (producer.Flush(timeout) > 0)
            {
                throw new KafkaException(new Error(ErrorCode.Local_TimedOut, "central did not acknowledge the batch in time"));
            }

            var committed = _time.GetTimestamp();
            Interlocked.Add(ref _commitTicks, committed - produced);
            Interlocked.Increment(ref _transactions);

            if (failure is not null)
            {
                // Only reachable in at-least-once mode: a transaction with a failed record cannot commit.
                throw new KafkaException(failure);
            }

            return new Delivery(records, produced - started, committed - produced);
        }
        catch (Exception) when (exactlyOnce)
        {
            _activity?.Aborted();
            TryAbort(producer);
            throw;
        }
    }

    /// <summary>
    /// Waits in steps of about a millisecond until central acknowledged every record the producer queued, at most
    /// <paramref name="timeout"/>; returns the time left of it, for the commit. A transaction's commit first waits
    /// for its queued records (librdkafka's flush), and that flush looks at the queue every 10 ms unless a delivery
    /// report wakes it; this producer has none (a transaction needs no per-record report), so each commit waited up
    /// to 10 ms longer than central took, about 5 ms on average: at 100 B records, a fifth of what committing took
    /// (transactions benchmark, docs/benchmarks.md). Each step is <c>Flush</c> without waiting, which also has the
    /// broker threads send what lingers at once, as the commit's own flush does; when it ends, that flush finds
    /// nothing left to wait for.
    /// </summary>
    internal static TimeSpan AwaitQueueSent(IProducer<byte[]?, byte[]?> producer, TimeSpan timeout)
    {
        // Real time, as the producer's own wait: the waiting is real whatever clock the service was given.
        var started = Stopwatch.GetTimestamp();
        while (producer.Flush(TimeSpan.Zero) > 0 && Stopwatch.GetElapsedTime(started) < timeout)
        {
            Thread.Sleep(1);
        }

        // Nothing left when the records were not acknowledged in time: the commit then reports it at once.
        var left = timeout - Stopwatch.GetElapsedTime(started);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    /// <summary>
    /// Where a record goes (its own destination, else the default template) and its source topic's UTF-8 bytes for the
    /// provenance header: worked out once per (source topic, destination, lane), not per record.
    /// </summary>
    private (TopicPartition Destination, byte[] SourceTopic) Destination(string sourceTopic, string? destinationTopic, string lane)
    {
        // Records come in runs of one source topic and lane, whose strings are the same instances (the reader decodes
        // each only once): the previous answer then stands without hashing three strings.
        var last = _lastDestination;
        if (last is not null && ReferenceEquals(sourceTopic, last.SourceTopic) && ReferenceEquals(destinationTopic, last.DestinationTopic) && ReferenceEquals(lane, last.Lane))
        {
            return last.Value;
        }

        var value = DestinationOf(sourceTopic, destinationTopic, lane);
        _lastDestination = new(sourceTopic, destinationTopic, lane, value);
        return value;
    }

    private sealed record LastDestination(string SourceTopic, string? DestinationTopic, string Lane, (TopicPartition Destination, byte[] SourceTopic) Value);

    private LastDestination? _lastDestination;

    private (TopicPartition Destination, byte[] SourceTopic) DestinationOf(string sourceTopic, string? destinationTopic, string lane)
    {
        ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(_destinations, (sourceTopic, destinationTopic, lane), out var exists);
        if (!exists)
        {
            var topic = destinationTopic ?? _defaultTemplate.Render(_config.Site.Id, sourceTopic, lane);
            entry = (new TopicPartition(topic, Partition.Any), Encoding.UTF8.GetBytes(sourceTopic));
        }

        return entry;
    }

    private static void ProduceWithBackpressure(IProducer<byte[]?, byte[]?> producer, TopicPartition topic, Message<byte[]?, byte[]?> msg, Action<DeliveryReport<byte[]?, byte[]?>>? onReport)
    {
        while (true)
        {
            try
            {
                producer.Produce(topic, msg, onReport);
                return;
            }
            catch (ProduceException<byte[]?, byte[]?> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
            {
                // The client queue is full: let it send (delivery reports are served by Poll) and try again.
                producer.Poll(TimeSpan.FromMilliseconds(10));
            }
        }
    }

    private void TryAbort(IProducer<byte[]?, byte[]?> producer)
    {
        try
        {
            producer.AbortTransaction(TimeSpan.FromSeconds(5));
        }
        catch (KafkaException e)
        {
            // The session ends anyway; the next producer's InitTransactions aborts what is left open.
            Log.AbortFailed(_logger, e.Error.Reason);
        }
    }

    private void DisposeProducer(IProducer<byte[]?, byte[]?> producer, bool exactlyOnce)
    {
        try
        {
            producer.Dispose();
        }
        catch (KafkaException e)
        {
            Log.CentralError(_logger, e.Error.Reason, e.Error.Code.ToString(), e.Error.IsFatal);
        }
    }

    private static async ValueTask AcquireAsync(RateLimiter limiter, long bytes, CancellationToken ct)
    {
        while (bytes > 0)
        {
            var chunk = (int)Math.Min(bytes, 65536);
            using var lease = await limiter.AcquireAsync(chunk, ct);
            bytes -= chunk;
        }
    }

    /// <summary>
    /// True when the lane has entries to read. The reader's HasCommittedData alone is not enough: with FASTER's
    /// FastCommitMode the commit records themselves sit in the log after the last entry, so the committed address
    /// stays ahead of the read address although nothing is left to read. A lane whose read came back empty counts as
    /// empty until its read or committed address moves.
    /// </summary>
    private bool HasData(int index, BufferLane lane) =>
        lane.Reader.HasCommittedData && _emptyAt[index] != (lane.Reader.ReadAddress, lane.CommittedUntilAddress);

    private async ValueTask WaitForDataAsync(DurableBuffer buffer, CancellationToken ct)
    {
        if (buffer.Lanes.Where((l, i) => _activity?.IsPaused(l.Name) != true && HasData(i, l)).Any())
        {
            return;
        }

        // Idle: a short sleep instead of LaneReader.WaitForDataAsync, which returns at once while commit records
        // sit past the last entry (see HasData). Costs at most this much latency on the first record after idling.
        await Task.Delay(IdlePoll, _time, ct);
    }

    private void Probe()
    {
        using var admin = new AdminClientBuilder(KafkaSettings.CentralClient(_config.Central)).SetLogHandler((_, m) => Log.Client(_logger, m)).Build();
        var md = admin.GetMetadata(TimeSpan.FromMilliseconds(_config.Uplink.ProbeTimeoutMs));
        if (md.Brokers.Count == 0)
        {
            throw new KafkaException(new Error(ErrorCode.Local_AllBrokersDown, "central metadata lists no brokers"));
        }

        if (_config.Central.CreateTopics)
        {
            EnsureTopic(admin, md, _config.Central.CheckpointTopic, _config.Central.CheckpointTopicPartitions, new Dictionary<string, string> { ["cleanup.policy"] = "compact" });
            EnsureTopic(admin, md, _gapTopic, 1, []);
        }
    }

    private void EnsureTopic(IAdminClient admin, Metadata md, string topic, int partitions, Dictionary<string, string> configs)
    {
        if (md.Topics.Any(t => t.Topic == topic && !t.Error.IsError && t.Partitions.Count > 0))
        {
            return;
        }

        try
        {
            admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = _config.Central.ReplicationFactor, Configs = configs }])
                .WaitAsync(TimeSpan.FromMilliseconds(_config.Uplink.ProbeTimeoutMs)).GetAwaiter().GetResult();
            Log.TopicCreated(_logger, topic, partitions, string.Join(",", configs.Select(kv => $"{kv.Key}={kv.Value}")));
        }
        catch (CreateTopicsException e) when (e.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
        {
        }
        catch (Exception e) when (e is KafkaException or TimeoutException)
        {
            // Some clusters (and the test mock) refuse CreateTopics; the topic may still exist or be auto-created.
            Log.TopicCreateFailed(_logger, topic, e.Message);
        }
    }

    private void OnCentralError(Error e)
    {
        if (e.IsFatal)
        {
            Log.CentralError(_logger, e.Reason, e.Code.ToString(), e.IsFatal);
        }
        else
        {
            // Connection errors repeat every reconnect attempt during an outage: debug level, but they tell the
            // uplink state before the transaction in flight times out.
            Log.CentralTransient(_logger, e.Reason, e.Code.ToString());
        }

        if (e.Code == ErrorCode.Local_AllBrokersDown)
        {
            Volatile.Write(ref _leadersStale, 1);
            _uplink.ReportUnreachable();
        }
    }

    private IProducer<byte[]?, byte[]?> StartProducer(bool exactlyOnce)
    {
        var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaSettings.CentralProducer(_config.Central, _config.Site.Id))
            .SetKeySerializer(Serializers.ByteArray)
            .SetValueSerializer(Serializers.ByteArray)
            .SetErrorHandler((_, e) => OnCentralError(e))
            .SetLogHandler((_, m) => Log.Client(_logger, m))
            .Build();
        try
        {
            if (exactlyOnce)
            {
                // Fences any older producer of this site and completes (or aborts) whatever transaction it left open.
                producer.InitTransactions(TimeSpan.FromMilliseconds(_config.Central.TransactionTimeoutMs));
            }

            return producer;
        }
        catch
        {
            producer.Dispose();
            throw;
        }
    }

    /// <summary>Reads this site's checkpoints (read_committed, from the beginning) and skips what central already has.</summary>
    private async ValueTask ReconcileAsync(DurableBuffer buffer, CancellationToken ct)
    {
        var checkpoints = ReadCheckpoints(ct);
        foreach (var lane in buffer.Lanes)
        {
            if (!checkpoints.TryGetValue(lane.Name, out var cp))
            {
                continue;
            }

            if (cp.Incarnation != buffer.Incarnation)
            {
                Log.ForeignCheckpoint(_logger, lane.Name, cp.Incarnation, buffer.Incarnation);
                continue;
            }

            var begin = lane.BeginAddress;
            if (cp.NextAddress <= begin)
            {
                continue;
            }

            var records = CountRecords(lane, cp.NextAddress);
            await lane.Reader.SkipToAsync(cp.NextAddress, records, ct);
            Interlocked.Add(ref _skipped, records);
            Log.SkippedDelivered(_logger, lane.Name, records, begin, cp.NextAddress);
        }
    }

    private static int CountRecords(BufferLane lane, long until)
    {
        lane.Reader.Rewind();
        var count = 0;
        while (lane.Reader.Read(10_000, 4L << 20) is { } batch)
        {
            count += batch.Entries.Count(e => e.Kind == EntryKind.Record && e.Address < until);
            if (batch.EndAddress >= until)
            {
                break;
            }
        }

        lane.Reader.Rewind();
        return count;
    }

    private Dictionary<string, Checkpoint> ReadCheckpoints(CancellationToken ct)
    {
        var topic = _config.Central.CheckpointTopic;
        var config = new ConsumerConfig(KafkaSettings.CentralClient(_config.Central))
        {
            GroupId = $"appliance-forwarder-{_config.Site.Id}-checkpoint-reader",
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            IsolationLevel = IsolationLevel.ReadCommitted,
            EnablePartitionEof = true,
            FetchQueueBackoffMs = 10,
        };
        var prefix = _config.Site.Id + "/";
        var result = new Dictionary<string, Checkpoint>(StringComparer.Ordinal);
        using var admin = new AdminClientBuilder(KafkaSettings.CentralClient(_config.Central)).SetLogHandler((_, m) => Log.Client(_logger, m)).Build();
        var md = admin.GetMetadata(topic, TimeSpan.FromMilliseconds(_config.Uplink.ProbeTimeoutMs));
        var partitions = md.Topics.Single(t => t.Topic == topic).Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        if (partitions.Count == 0)
        {
            throw new KafkaException(new Error(ErrorCode.UnknownTopicOrPart, $"checkpoint topic {topic} has no partitions"));
        }

        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).SetLogHandler((_, m) => Log.Client(_logger, m)).Build();
        var timeout = TimeSpan.FromMilliseconds(_config.Central.TransactionTimeoutMs);
        // The end to reach: the high watermark now, after InitTransactions resolved our own open transaction. Another
        // site's open transaction can hold the read_committed end (LSO) below it; it resolves within its timeout.
        var ends = partitions.ToDictionary(p => p, p => consumer.QueryWatermarkOffsets(p, timeout).High.Value);
        consumer.Assign(partitions.Select(p => new TopicPartitionOffset(p, Offset.Beginning)));
        var done = new HashSet<TopicPartition>(partitions.Where(p => ends[p] == 0));
        var started = _time.GetTimestamp();
        while (done.Count < partitions.Count)
        {
            ct.ThrowIfCancellationRequested();
            if (_time.GetElapsedTime(started) > timeout * 2)
            {
                throw new KafkaException(new Error(ErrorCode.Local_TimedOut, $"reading checkpoints from {topic} did not reach its end in {timeout * 2}"));
            }

            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (!r.IsPartitionEOF && r.Message.Key is { } k && r.Message.Value is { } v)
            {
                var key = Encoding.UTF8.GetString(k);
                if (key.StartsWith(prefix, StringComparison.Ordinal) && Checkpoint.Parse(v) is { } cp && cp.Site == _config.Site.Id)
                {
                    result[cp.Lane] = cp;
                }
            }

            var position = r.IsPartitionEOF ? r.Offset.Value : r.Offset.Value + 1;
            if (r.IsPartitionEOF || position >= ends[r.TopicPartition])
            {
                // EOF is the read_committed end; also past the watermark taken before reading means nothing is missed.
                if (position >= ends[r.TopicPartition] || r.IsPartitionEOF && consumer.Position(r.TopicPartition).Value >= ends[r.TopicPartition])
                {
                    done.Add(r.TopicPartition);
                }
            }
        }

        consumer.Close();
        return result;
    }
}

/// <summary>Where the drain's time went since start (see <see cref="DrainService.DeliveryTimes"/>).</summary>
/// <param name="Transactions">Transactions (or at-least-once batches) completed.</param>
/// <param name="Reading">Reading batches from the buffer.</param>
/// <param name="Producing">Handing records to the producer.</param>
/// <param name="Committing">Committing: waiting until central acknowledged the transaction.</param>
/// <param name="Idle">Waiting because no lane had data.</param>
public readonly record struct DrainTimes(long Transactions, TimeSpan Reading, TimeSpan Producing, TimeSpan Committing, TimeSpan Idle)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"{Transactions} transactions; reading {Reading.TotalSeconds:F2} s, producing {Producing.TotalSeconds:F2} s, committing {Committing.TotalSeconds:F2} s, idle {Idle.TotalSeconds:F2} s";
}
