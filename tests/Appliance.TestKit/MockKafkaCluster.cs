using System.Globalization;
using System.Runtime.InteropServices;
using Appliance.TestKit.Native;
using Confluent.Kafka;

namespace Appliance.TestKit;

/// <summary>
/// librdkafka's built-in mock Kafka cluster, in this process, reached over real 127.0.0.1 TCP ports by any
/// Kafka client (in this process or another). Broker ids are 1..N.
/// </summary>
/// <remarks>
/// Limits of the mock (not of Kafka): each partition keeps only about 5 MiB or 100k batches, older data is
/// silently dropped; consumers should set <c>fetch.queue.backoff.ms</c> low (see
/// <see cref="KafkaTestHelpers.ConsumerConfig(string, string, IsolationLevel)"/>); the CreateTopics admin API is
/// not supported (use <see cref="CreateTopic"/>); data lives in memory only.
/// </remarks>
public sealed class MockKafkaCluster : IKafkaTestCluster
{
    /// <summary>Broker id meaning "every broker" in the mock API.</summary>
    public const int AllBrokers = -1;

    private readonly object _gate = new();
    private IntPtr _rk;
    private IntPtr _cluster;

    /// <summary>Starts a mock cluster with <paramref name="brokerCount"/> brokers (ids 1..N).</summary>
    public MockKafkaCluster(int brokerCount = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerCount, 1);
        BrokerCount = brokerCount;
        _rk = CreateHandle();
        _cluster = LibRdKafka.rd_kafka_mock_cluster_new(_rk, brokerCount);
        if (_cluster == IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(_rk);
            _rk = IntPtr.Zero;
            throw new InvalidOperationException("rd_kafka_mock_cluster_new failed (see librdkafka log on stderr)");
        }

        BootstrapServers = Marshal.PtrToStringUTF8(LibRdKafka.rd_kafka_mock_cluster_bootstraps(_cluster))
            ?? throw new InvalidOperationException("mock cluster returned no bootstrap servers");
        BrokerPorts = ParsePorts(BootstrapServers);
    }

    /// <summary>Number of brokers (ids 1..BrokerCount).</summary>
    public int BrokerCount { get; }

    /// <summary>Comma-separated <c>127.0.0.1:port</c> list of the brokers, in broker id order.</summary>
    public string BootstrapServers { get; }

    /// <summary>The loopback TCP port of each broker: index 0 is broker 1.</summary>
    public IReadOnlyList<int> BrokerPorts { get; }

    /// <inheritdoc />
    public string Description => $"librdkafka mock cluster ({BrokerCount} broker(s), in process)";

    /// <inheritdoc />
    public bool SupportsFaultInjection => true;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ClientProperties { get; } = new Dictionary<string, string>();

    /// <summary>The librdkafka file the mock runs in (the one Confluent.Kafka loaded).</summary>
    public static string NativeLibraryPath => NativeLibraryLocator.LoadedPath;

    /// <summary>Creates a topic with <paramref name="partitions"/> partitions.</summary>
    public void CreateTopic(string name, int partitions, int replicationFactor = 1)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicationFactor, 1);
        Check(LibRdKafka.rd_kafka_mock_topic_create(Cluster, name, partitions, replicationFactor), $"create topic {name}");
    }

    /// <summary>Disconnects broker <paramref name="brokerId"/> and refuses new connections (no leader change).</summary>
    public void SetBrokerDown(int brokerId) =>
        Check(LibRdKafka.rd_kafka_mock_broker_set_down(Cluster, ValidBroker(brokerId)), $"set broker {brokerId} down");

    /// <summary>Lets broker <paramref name="brokerId"/> accept connections again.</summary>
    public void SetBrokerUp(int brokerId) =>
        Check(LibRdKafka.rd_kafka_mock_broker_set_up(Cluster, ValidBroker(brokerId)), $"set broker {brokerId} up");

    /// <summary>Sets every broker down.</summary>
    public void SetAllBrokersDown() => SetBrokerDown(AllBrokers);

    /// <summary>Sets every broker up.</summary>
    public void SetAllBrokersUp() => SetBrokerUp(AllBrokers);

    /// <summary>Delays every response of broker <paramref name="brokerId"/> by <paramref name="milliseconds"/> (0 = none).</summary>
    public void SetRtt(int brokerId, int milliseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        Check(LibRdKafka.rd_kafka_mock_broker_set_rtt(Cluster, ValidBroker(brokerId), milliseconds), $"set broker {brokerId} rtt");
    }

    /// <summary>
    /// Makes the next <c>errors.Length</c> requests with Kafka protocol <paramref name="apiKey"/> (e.g. 0 = Produce)
    /// fail, in order, with the given errors. <see cref="ErrorCode.Local_Transport"/> makes the broker disconnect.
    /// </summary>
    public unsafe void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (errors.Length == 0)
        {
            return;
        }

        var codes = Array.ConvertAll(errors, e => (int)e);
        fixed (int* p = codes)
        {
            LibRdKafka.rd_kafka_mock_push_request_errors_array(Cluster, apiKey, (nuint)codes.Length, p);
        }
    }

    /// <summary>Removes errors pushed for <paramref name="apiKey"/> that have not been consumed yet.</summary>
    public void ClearRequestErrors(short apiKey) => LibRdKafka.rd_kafka_mock_clear_request_errors(Cluster, apiKey);

    /// <summary>
    /// Changes the address broker <paramref name="brokerId"/> advertises in Metadata responses (the listener itself
    /// stays on its 127.0.0.1 port): used behind a TCP forwarder or a NAT such as QEMU's user network.
    /// </summary>
    public void SetBrokerAdvertisedAddress(int brokerId, string host, int port)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        ArgumentOutOfRangeException.ThrowIfLessThan(brokerId, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(brokerId, BrokerCount);
        LibRdKafka.rd_kafka_mock_broker_set_host_port(Cluster, brokerId, host, port);
    }

    /// <inheritdoc />
    public Task CreateTopicAsync(string name, int partitions, short replicationFactor = 1, CancellationToken cancellationToken = default)
    {
        CreateTopic(name, partitions, replicationFactor);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SetBrokerDownAsync(int brokerId, CancellationToken cancellationToken = default)
    {
        SetBrokerDown(brokerId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SetBrokerUpAsync(int brokerId, CancellationToken cancellationToken = default)
    {
        SetBrokerUp(brokerId);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task SetAllBrokersDownAsync(CancellationToken cancellationToken = default) => SetBrokerDownAsync(AllBrokers, cancellationToken);

    /// <inheritdoc />
    public Task SetAllBrokersUpAsync(CancellationToken cancellationToken = default) => SetBrokerUpAsync(AllBrokers, cancellationToken);

    /// <inheritdoc />
    public Task SetRttAsync(int brokerId, int milliseconds, CancellationToken cancellationToken = default)
    {
        SetRtt(brokerId, milliseconds);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task PushRequestErrorsAsync(short apiKey, IReadOnlyList<ErrorCode> errors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(errors);
        PushRequestErrors(apiKey, [.. errors]);
        return Task.CompletedTask;
    }

    /// <summary>Destroys the mock cluster (closing every client connection) and its librdkafka handle.</summary>
    public void Dispose()
    {
        IntPtr cluster, rk;
        lock (_gate)
        {
            cluster = _cluster;
            rk = _rk;
            _cluster = IntPtr.Zero;
            _rk = IntPtr.Zero;
        }

        if (cluster != IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_mock_cluster_destroy(cluster);
        }

        if (rk != IntPtr.Zero)
        {
            LibRdKafka.rd_kafka_destroy(rk);
        }
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Description} {BootstrapServers}";

    private IntPtr Cluster
    {
        get
        {
            var cluster = _cluster;
            ObjectDisposedException.ThrowIf(cluster == IntPtr.Zero, this);
            return cluster;
        }
    }

    private int ValidBroker(int brokerId)
    {
        if (brokerId != AllBrokers && (brokerId < 1 || brokerId > BrokerCount))
        {
            throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId, $"broker ids are 1..{BrokerCount} or {AllBrokers} for all");
        }

        return brokerId;
    }

    private static void Check(int err, string what)
    {
        if (err != 0)
        {
            throw new InvalidOperationException($"mock cluster: {what} failed: {LibRdKafka.ErrorText(err)} ({err})");
        }
    }

    private static unsafe IntPtr CreateHandle()
    {
        var errors = stackalloc byte[512];
        var conf = LibRdKafka.rd_kafka_conf_new();
        // The handle only hosts the mock; it never connects anywhere. Its log goes to stderr: keep warnings and up.
        if (LibRdKafka.rd_kafka_conf_set(conf, "log_level", "4", errors, 512) != LibRdKafka.ConfOk)
        {
            var message = Marshal.PtrToStringUTF8((IntPtr)errors);
            LibRdKafka.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"librdkafka conf: {message}");
        }

        // rd_kafka_new takes ownership of conf on success only.
        var rk = LibRdKafka.rd_kafka_new(LibRdKafka.ProducerType, conf, errors, 512);
        if (rk == IntPtr.Zero)
        {
            var message = Marshal.PtrToStringUTF8((IntPtr)errors);
            LibRdKafka.rd_kafka_conf_destroy(conf);
            throw new InvalidOperationException($"rd_kafka_new failed: {message}");
        }

        return rk;
    }

    private static int[] ParsePorts(string bootstraps) =>
        [.. bootstraps.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(e => int.Parse(e[(e.LastIndexOf(':') + 1)..], NumberStyles.None, CultureInfo.InvariantCulture))];
}
