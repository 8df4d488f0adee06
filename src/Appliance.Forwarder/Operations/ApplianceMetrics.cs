using Appliance.Core.Status;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Appliance.Forwarder.Operations;

/// <summary>
/// The appliance's Prometheus metrics. Values are not pushed by the data path: every scrape takes one
/// <see cref="ApplianceStatus"/> snapshot (a before-collect callback) and copies it into the collectors, so a scrape
/// is always internally consistent and the hot path pays nothing. Names are listed in docs/operations.md.
/// </summary>
public sealed class ApplianceMetrics
{
    /// <summary>Every <see cref="ConnectivityState"/> as its label value.</summary>
    public static readonly IReadOnlyList<(ConnectivityState State, string Label)> ConnectivityLabels =
        [(ConnectivityState.Unknown, "unknown"), (ConnectivityState.Online, "online"), (ConnectivityState.Degraded, "degraded"), (ConnectivityState.Offline, "offline")];

    /// <summary>Every <see cref="CircuitBreakerState"/> as its label value.</summary>
    public static readonly IReadOnlyList<(CircuitBreakerState State, string Label)> BreakerLabels =
        [(CircuitBreakerState.Closed, "closed"), (CircuitBreakerState.Open, "open"), (CircuitBreakerState.HalfOpen, "half_open"), (CircuitBreakerState.Isolated, "isolated")];

    private readonly IApplianceStatusSource _source;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private readonly DateTimeOffset _createdAt;

    private readonly Gauge _info;
    private readonly Gauge _up;
    private readonly Counter _statusErrors;
    private readonly Gauge _connectivity;
    private readonly Gauge _connectivityChanged;
    private readonly Gauge _lastDelivery;
    private readonly Gauge _lastDeliveryAge;
    private readonly Gauge _breaker;
    private readonly Gauge _edgeReachable;
    private readonly Counter _transactions;
    private readonly Gauge _bufferOpen;
    private readonly Gauge _bufferFaulted;
    private readonly Gauge _bufferBudget;
    private readonly Gauge _bufferBytes;
    private readonly Gauge _laneInfo;
    private readonly Gauge _laneBytes;
    private readonly Gauge _laneRecords;
    private readonly Gauge _laneQuota;
    private readonly Gauge _laneOldestAge;
    private readonly Gauge _lanePaused;
    private readonly Counter _laneIngestRecords;
    private readonly Counter _laneIngestBytes;
    private readonly Counter _laneDrainRecords;
    private readonly Counter _laneDrainBytes;
    private readonly Counter _laneDrops;
    private readonly Counter _laneGaps;
    private readonly Gauge _edgeLag;

    private HashSet<string> _lanes = [];
    private HashSet<(string Lane, string Priority, string Policy)> _laneInfos = [];
    private HashSet<(string Lane, string Reason)> _drops = [];
    private HashSet<(string Topic, string Partition)> _lags = [];
    private (string Version, string Flavour)? _infoLabels;

    /// <summary>Creates the collectors in a registry of their own (with the process metrics) labelled with the site.</summary>
    public ApplianceMetrics(IApplianceStatusSource source, TimeProvider time, string siteLabel, ILogger<ApplianceMetrics> logger)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(time);
        _source = source;
        _time = time;
        _logger = logger;
        _createdAt = time.GetUtcNow();
        Registry = Metrics.NewCustomRegistry();
        if (!string.IsNullOrEmpty(siteLabel))
        {
            Registry.SetStaticLabels(new Dictionary<string, string> { ["site"] = siteLabel });
        }

        DotNetStats.Register(Registry);
        var f = Metrics.WithCustomRegistry(Registry);
        _info = f.CreateGauge("appliance_info", "Always 1; labels carry the forwarder version and the central broker flavour.", "version", "broker_flavour");
        _up = f.CreateGauge("appliance_status_up", "1 when the last scrape could read the appliance status, 0 when it failed (all other appliance_ values are then stale).");
        _statusErrors = f.CreateCounter("appliance_status_errors_total", "Scrapes that could not read the appliance status.");
        _connectivity = f.CreateGauge("appliance_connectivity_state", "Connectivity to central: 1 for the current state, 0 for the others.", "state");
        _connectivityChanged = f.CreateGauge("appliance_connectivity_changed_timestamp_seconds", "Unix time of the last connectivity change (0: none since start).");
        _lastDelivery = f.CreateGauge("appliance_last_successful_delivery_timestamp_seconds", "Unix time central last acknowledged a delivery (0: none since start).");
        _lastDeliveryAge = f.CreateGauge("appliance_last_successful_delivery_age_seconds", "Seconds since central last acknowledged a delivery; since the service started when nothing was delivered yet.");
        _breaker = f.CreateGauge("appliance_circuit_breaker_state", "Circuit breaker around calls to central: 1 for the current state, 0 for the others.", "state");
        _edgeReachable = f.CreateGauge("appliance_edge_reachable", "1 when the edge (local) broker answers, else 0.");
        _transactions = f.CreateCounter("appliance_central_transactions_total", "Transactions on central by result.", "result");
        _bufferOpen = f.CreateGauge("appliance_buffer_open", "1 while the durable buffer is open.");
        _bufferFaulted = f.CreateGauge("appliance_buffer_faulted", "1 after a buffer device or commit failure (sticky until restart).");
        _bufferBudget = f.CreateGauge("appliance_buffer_budget_bytes", "Disk budget of the buffer over all lanes.");
        _bufferBytes = f.CreateGauge("appliance_buffer_buffered_bytes", "Bytes buffered over all lanes.");
        _laneInfo = f.CreateGauge("appliance_lane_info", "Always 1; labels carry the lane's priority rank (0 = highest) and full policy.", "lane", "priority", "policy");
        _laneBytes = f.CreateGauge("appliance_lane_buffered_bytes", "Bytes held by the lane, not yet delivered to central.", "lane");
        _laneRecords = f.CreateGauge("appliance_lane_buffered_records", "Records held by the lane, not yet delivered to central.", "lane");
        _laneQuota = f.CreateGauge("appliance_lane_quota_bytes", "Most bytes the lane may hold.", "lane");
        _laneOldestAge = f.CreateGauge("appliance_lane_oldest_unsent_age_seconds", "Age of the lane's oldest record not yet delivered (0 when empty).", "lane");
        _lanePaused = f.CreateGauge("appliance_lane_paused", "1 while an operator paused draining of the lane.", "lane");
        _laneIngestRecords = f.CreateCounter("appliance_lane_ingested_records_total", "Records appended to the lane.", "lane");
        _laneIngestBytes = f.CreateCounter("appliance_lane_ingested_bytes_total", "Payload bytes appended to the lane.", "lane");
        _laneDrainRecords = f.CreateCounter("appliance_lane_drained_records_total", "Records delivered to central from the lane.", "lane");
        _laneDrainBytes = f.CreateCounter("appliance_lane_drained_bytes_total", "Payload bytes delivered to central from the lane.", "lane");
        _laneDrops = f.CreateCounter("appliance_lane_dropped_records_total", "Records dropped from the lane, by reason (drop_newest, drop_oldest, ttl, priority_eviction).", "lane", "reason");
        _laneGaps = f.CreateCounter("appliance_lane_gap_markers_sent_total", "Gap markers delivered to central for the lane.", "lane");
        _edgeLag = f.CreateGauge("appliance_edge_consumer_lag_records", "Records between the edge consumer's position and the partition's high watermark.", "topic", "partition");
        Registry.AddBeforeCollectCallback(Refresh);
    }

    /// <summary>The registry served on <c>/metrics</c>.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Copies one status snapshot into the collectors. Called before every collection; public for tests.</summary>
    public void Refresh()
    {
        lock (_gate)
        {
            ApplianceStatus status;
            try
            {
                status = _source.GetStatus();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                OperationsLog.StatusFailed(_logger, e, "a metrics scrape");
                _statusErrors.Inc();
                _up.Set(0);
                return;
            }

            _up.Set(1);
            Apply(status, _time.GetUtcNow());
        }
    }

    private void Apply(ApplianceStatus s, DateTimeOffset now)
    {
        var info = (s.Version, s.BrokerFlavour);
        if (_infoLabels is { } old && old != info)
        {
            _info.RemoveLabelled(old.Version, old.Flavour);
        }

        _infoLabels = info;
        _info.WithLabels(s.Version, s.BrokerFlavour).Set(1);

        foreach (var (state, label) in ConnectivityLabels)
        {
            _connectivity.WithLabels(label).Set(s.Connectivity == state ? 1 : 0);
        }

        _connectivityChanged.Set(s.ConnectivitySince?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
        _lastDelivery.Set(s.LastSuccessfulDelivery?.ToUnixTimeMilliseconds() / 1000.0 ?? 0);
        var since = s.LastSuccessfulDelivery ?? s.StartedAt ?? _createdAt;
        _lastDeliveryAge.Set(Math.Max(0, (now - since).TotalSeconds));
        foreach (var (state, label) in BreakerLabels)
        {
            _breaker.WithLabels(label).Set(s.CircuitBreaker == state ? 1 : 0);
        }

        _edgeReachable.Set(s.EdgeReachable ? 1 : 0);
        _transactions.WithLabels("committed").IncTo(s.TransactionsCommittedTotal);
        _transactions.WithLabels("aborted").IncTo(s.TransactionsAbortedTotal);
        _bufferOpen.Set(s.Buffer.Open ? 1 : 0);
        _bufferFaulted.Set(s.Buffer.Faulted ? 1 : 0);
        _bufferBudget.Set(s.Buffer.TotalBudgetBytes);
        _bufferBytes.Set(s.Buffer.TotalBufferedBytes);

        var lanes = new HashSet<string>(StringComparer.Ordinal);
        var laneInfos = new HashSet<(string Lane, string Priority, string Policy)>();
        var drops = new HashSet<(string Lane, string Reason)>();
        foreach (var lane in s.Lanes)
        {
            var n = lane.Name;
            lanes.Add(n);
            var li = (n, lane.Priority.ToString(System.Globalization.CultureInfo.InvariantCulture), lane.Policy);
            laneInfos.Add(li);
            _laneInfo.WithLabels(li.Item1, li.Item2, li.Item3).Set(1);
            _laneBytes.WithLabels(n).Set(lane.BufferedBytes);
            _laneRecords.WithLabels(n).Set(lane.BufferedRecords);
            _laneQuota.WithLabels(n).Set(lane.QuotaBytes);
            _laneOldestAge.WithLabels(n).Set(lane.OldestUnsentAge(now).TotalSeconds);
            _lanePaused.WithLabels(n).Set(lane.Paused ? 1 : 0);
            _laneIngestRecords.WithLabels(n).IncTo(lane.IngestedRecordsTotal);
            _laneIngestBytes.WithLabels(n).IncTo(lane.IngestedBytesTotal);
            _laneDrainRecords.WithLabels(n).IncTo(lane.DrainedRecordsTotal);
            _laneDrainBytes.WithLabels(n).IncTo(lane.DrainedBytesTotal);
            _laneGaps.WithLabels(n).IncTo(lane.GapMarkersSentTotal);
            foreach (var (reason, count) in lane.DroppedRecordsTotal)
            {
                drops.Add((n, reason));
                _laneDrops.WithLabels(n, reason).IncTo(count);
            }
        }

        // A lane or partition that disappeared from the snapshot (reconfigured, rebalanced away) must not linger.
        foreach (var gone in _lanes.Except(lanes))
        {
            foreach (var g in new[] { _laneBytes, _laneRecords, _laneQuota, _laneOldestAge, _lanePaused })
            {
                g.RemoveLabelled(gone);
            }

            foreach (var c in new[] { _laneIngestRecords, _laneIngestBytes, _laneDrainRecords, _laneDrainBytes, _laneGaps })
            {
                c.RemoveLabelled(gone);
            }
        }

        foreach (var gone in _laneInfos.Except(laneInfos))
        {
            _laneInfo.RemoveLabelled(gone.Lane, gone.Priority, gone.Policy);
        }

        foreach (var gone in _drops.Except(drops))
        {
            _laneDrops.RemoveLabelled(gone.Lane, gone.Reason);
        }

        var lags = new HashSet<(string Topic, string Partition)>();
        foreach (var lag in s.EdgeLag)
        {
            var key = (lag.Topic, lag.Partition.ToString(System.Globalization.CultureInfo.InvariantCulture));
            lags.Add(key);
            _edgeLag.WithLabels(key.Topic, key.Item2).Set(lag.Lag);
        }

        foreach (var gone in _lags.Except(lags))
        {
            _edgeLag.RemoveLabelled(gone.Topic, gone.Partition);
        }

        _lanes = lanes;
        _laneInfos = laneInfos;
        _drops = drops;
        _lags = lags;
    }
}
