using System.ComponentModel.DataAnnotations;

namespace Appliance.Forwarder.Options;

/// <summary>How records reach the central cluster.</summary>
public enum DeliveryMode
{
    /// <summary>Transactional producer; each batch is committed together with a checkpoint. No duplicates for read_committed consumers.</summary>
    ExactlyOnce,

    /// <summary>Idempotent producer without transactions, for central clusters that do not support them. Duplicates are possible after failures; the provenance header lets consumers remove them.</summary>
    AtLeastOnce,
}

/// <summary>Uplink compression codec (central producer <c>compression.type</c>).</summary>
public enum UplinkCompression
{
    /// <summary>No compression.</summary>
    None,

    /// <summary>LZ4: cheap on CPU.</summary>
    Lz4,

    /// <summary>Zstandard: smaller on the wire, more CPU.</summary>
    Zstd,

    /// <summary>Snappy.</summary>
    Snappy,

    /// <summary>Gzip.</summary>
    Gzip,
}

/// <summary>The edge (local) Kafka cluster. Configuration section <c>Edge</c>.</summary>
public sealed class EdgeOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Edge";

    /// <summary>Edge bootstrap servers (<c>bootstrap.servers</c>). The default value is <c>127.0.0.1:9092</c>.</summary>
    [Required(ErrorMessage = "is required (edge bootstrap servers, host:port[,host:port])")]
    public string BootstrapServers { get; set; } = "127.0.0.1:9092";

    /// <summary>Consumer group of the ingest. Its offsets are committed for lag monitoring only; the buffer holds the real positions. The default value is <c>appliance-forwarder</c>.</summary>
    [Required]
    public string GroupId { get; set; } = "appliance-forwarder";

    /// <summary>Most records taken per poll batch before the batch is made durable. The default value is 5000.</summary>
    [Range(1, 1_000_000)]
    public int MaxPollRecords { get; set; } = 5000;

    /// <summary>How often consumer-group offsets are committed (after the buffer made them durable), milliseconds. The default value is 1000.</summary>
    [Range(10, 600_000)]
    public int OffsetCommitIntervalMs { get; set; } = 1000;

    /// <summary>How often edge metadata is read to pick up new topics (matching a route's regular expression) and partitions, milliseconds. The default value is 10000.</summary>
    [Range(100, 3_600_000)]
    public int TopicRefreshIntervalMs { get; set; } = 10_000;

    /// <summary>
    /// Topic on the edge cluster receiving records a route's steps could not process (input unchanged plus
    /// <c>x-dead-letter-*</c> headers); placeholders <c>{site}</c>, <c>{topic}</c> (the source topic), <c>{lane}</c>.
    /// The default value is <c>{site}._dead-letters</c>.
    /// </summary>
    [Required]
    public string DeadLetterTopic { get; set; } = "{site}._dead-letters";

    /// <summary>
    /// Poll records from librdkafka directly (<c>rd_kafka_consumer_poll</c>) instead of through Confluent.Kafka's
    /// <c>Consume</c>, which builds several objects per record (same records taken; docs/forwarder.md, "Consuming").
    /// Falls back by itself when the native handle is not reachable. The default value is true.
    /// </summary>
    public bool DirectConsume { get; set; } = true;

    /// <summary>Any librdkafka consumer property, passed through (e.g. <c>security.protocol</c>). Values containing secrets are never logged.</summary>
    public Dictionary<string, string> Kafka { get; set; } = [];
}

/// <summary>The central cluster and the drain. Configuration section <c>Central</c>.</summary>
public sealed class CentralOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Central";

    /// <summary>Central bootstrap servers. Required; there is no default.</summary>
    [Required(ErrorMessage = "is required (central bootstrap servers, host:port[,host:port])")]
    public string BootstrapServers { get; set; } = "";

    /// <summary>Delivery guarantee. The default value is <see cref="DeliveryMode.ExactlyOnce"/>.</summary>
    public DeliveryMode Delivery { get; set; } = DeliveryMode.ExactlyOnce;

    /// <summary>Transactional id of the central producer. The default value is null, meaning <c>appliance-forwarder-{site}</c>.</summary>
    public string? TransactionalId { get; set; }

    /// <summary>Compacted topic holding the drain checkpoints. The default value is <c>_edge-checkpoints</c>.</summary>
    [Required]
    public string CheckpointTopic { get; set; } = "_edge-checkpoints";

    /// <summary>Partitions of the checkpoint topic when the forwarder creates it. The default value is 1.</summary>
    [Range(1, 1000)]
    public int CheckpointTopicPartitions { get; set; } = 1;

    /// <summary>Topic receiving gap markers (JSON); placeholders <c>{site}</c>. The default value is <c>{site}._gaps</c>.</summary>
    [Required]
    public string GapTopic { get; set; } = "{site}._gaps";

    /// <summary>Default destination topic template for routes that set none; placeholders <c>{site}</c>, <c>{topic}</c>, <c>{lane}</c>. The default value is <c>{site}.{topic}</c>.</summary>
    [Required]
    public string DestinationTemplate { get; set; } = "{site}.{topic}";

    /// <summary>Create the checkpoint and gap topics at start-up when they are missing. The default value is true.</summary>
    public bool CreateTopics { get; set; } = true;

    /// <summary>Replication factor used when creating topics. The default value is 1.</summary>
    [Range(1, 16)]
    public short ReplicationFactor { get; set; } = 1;

    /// <summary>Uplink compression. The default value is <see cref="UplinkCompression.Lz4"/>.</summary>
    public UplinkCompression Compression { get; set; } = UplinkCompression.Lz4;

    /// <summary>Scheduler quantum: bytes a lane of weight 1 may send per round. The default value is 65536.</summary>
    [Range(1024, 64L << 20)]
    public int QuantumBytes { get; set; } = 64 * 1024;

    /// <summary>Most bytes (buffer encoding) in one transaction; bounds how long a fresh top-lane record waits behind a backlog. The default value is 4 MiB.</summary>
    [Range(4096, 1L << 30)]
    public long MaxTransactionBytes { get; set; } = 4L << 20;

    /// <summary>Most records taken from one lane per round. The default value is 20000.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchRecords { get; set; } = 20_000;

    /// <summary>Uplink byte-rate limit (buffer encoding bytes per second); 0 means unlimited. The default value is 0.</summary>
    [Range(0, long.MaxValue)]
    public long RateLimitBytesPerSecond { get; set; }

    /// <summary>Longest a transaction (and each record in it) may take to be acknowledged before it is abandoned and retried, milliseconds. It bounds how long an outage that starts mid-transaction holds a batch. The default value is 10000.</summary>
    [Range(1000, 900_000)]
    public int TransactionTimeoutMs { get; set; } = 10_000;

    /// <summary>
    /// In exactly-once mode, hand each record with its headers to librdkafka in one native call instead of through
    /// Confluent.Kafka's per-header marshalling (same records at central; docs/forwarder.md, "Producing"). Falls back
    /// by itself when the native handle is not reachable. The default value is true.
    /// </summary>
    public bool DirectProduce { get; set; } = true;

    /// <summary>Any librdkafka producer/admin property, passed through (e.g. <c>sasl.mechanism</c>, <c>ssl.ca.location</c>). Values containing secrets are never logged.</summary>
    public Dictionary<string, string> Kafka { get; set; } = [];
}

/// <summary>
/// One route: edge topics it takes, the lane they go to, and the central topic name. The first route matching a
/// topic wins. Configuration section <c>Routes</c> (a list).
/// </summary>
public sealed class RouteOptions
{
    /// <summary>Route name, for logs and the pipeline. The default value is the lane name.</summary>
    public string? Name { get; set; }

    /// <summary>Edge topics: exact names, or regular expressions starting with <c>^</c> (librdkafka's convention).</summary>
    public List<string> Topics { get; set; } = [];

    /// <summary>The buffer lane (one of <c>Buffer:Lanes</c>).</summary>
    [Required]
    public string Lane { get; set; } = "";

    /// <summary>Destination template (<c>{site}</c>, <c>{topic}</c>, <c>{lane}</c>), or <c>keep</c> for the edge topic name. The default value is null: <c>Central:DestinationTemplate</c>.</summary>
    public string? Destination { get; set; }

    /// <summary>
    /// Pre-processing steps, applied in order (the pipeline's step options: <c>Type</c> plus the step's settings,
    /// see docs/pipeline.md). Validated at start-up. The default value is an empty list: records pass unchanged.
    /// </summary>
    public List<Appliance.Core.Pipeline.StepOptions> Steps { get; set; } = [];

    /// <summary>The lane for records a <c>downsample</c> step marks as late. The default value is null: <see cref="Lane"/>.</summary>
    public string? LateLane { get; set; }

    /// <summary>Destination template for late records (same placeholders as <see cref="Destination"/>). The default value is null: the route's destination.</summary>
    public string? LateDestination { get; set; }
}

/// <summary>Uplink connectivity and backoff. Configuration section <c>Uplink</c>.</summary>
public sealed class UplinkOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Uplink";

    /// <summary>Timeout of one connectivity probe (metadata request), milliseconds. The default value is 5000.</summary>
    [Range(100, 120_000)]
    public int ProbeTimeoutMs { get; set; } = 5000;

    /// <summary>First reconnect delay (exponential backoff with jitter), milliseconds. The default value is 500.</summary>
    [Range(1, 600_000)]
    public int BackoffBaseMs { get; set; } = 500;

    /// <summary>Longest reconnect delay, milliseconds. The default value is 10000.</summary>
    [Range(1, 3_600_000)]
    public int BackoffMaxMs { get; set; } = 10_000;

    /// <summary>Circuit breaker: failure ratio over the sampling window that opens it (uplink offline). The default value is 0.5.</summary>
    [Range(0.01, 1.0)]
    public double FailureRatio { get; set; } = 0.5;

    /// <summary>Circuit breaker: calls needed in the window before it may open. The default value is 2.</summary>
    [Range(2, 10_000)]
    public int MinimumThroughput { get; set; } = 2;

    /// <summary>Circuit breaker: sampling window, milliseconds. The default value is 30000.</summary>
    [Range(500, 3_600_000)]
    public int SamplingDurationMs { get; set; } = 30_000;

    /// <summary>Circuit breaker: how long it stays open before a trial call, milliseconds. The default value is 5000.</summary>
    [Range(500, 3_600_000)]
    public int BreakDurationMs { get; set; } = 5000;
}

/// <summary>
/// The whole forwarder configuration, bound from the configuration root so that one validator can report every
/// problem at once with its key.
/// </summary>
public sealed class ForwarderConfiguration
{
    /// <summary>Site identity (<c>Site</c>).</summary>
    public Appliance.Core.Identity.SiteOptions Site { get; set; } = new();

    /// <summary>The durable buffer (<c>Buffer</c>).</summary>
    public Appliance.Buffer.BufferOptions Buffer { get; set; } = new();

    /// <summary>The edge cluster (<c>Edge</c>).</summary>
    public EdgeOptions Edge { get; set; } = new();

    /// <summary>The central cluster (<c>Central</c>).</summary>
    public CentralOptions Central { get; set; } = new();

    /// <summary>Routes, first match wins (<c>Routes</c>). At least one is required.</summary>
    public List<RouteOptions> Routes { get; set; } = [];

    /// <summary>Uplink behaviour (<c>Uplink</c>).</summary>
    public UplinkOptions Uplink { get; set; } = new();
}
