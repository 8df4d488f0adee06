using System.Globalization;
using Confluent.Kafka;

namespace Appliance.TestKit;

/// <summary>Options for <see cref="MockKafkaProcess.StartAsync"/>; they map 1:1 to the appliance-mockkafka CLI.</summary>
public sealed class MockKafkaProcessOptions
{
    /// <summary>Number of brokers. The default value is 1.</summary>
    public int Brokers { get; set; } = 1;

    /// <summary>When set, broker i listens on port PortBase+i-1 (via a forwarder). The default value is null (ephemeral ports).</summary>
    public int? PortBase { get; set; }

    /// <summary>Listen address. The default value is null (the CLI default, 127.0.0.1).</summary>
    public string? Bind { get; set; }

    /// <summary>Host advertised to clients. The default value is null (the CLI default).</summary>
    public string? AdvertiseHost { get; set; }

    /// <summary>Topics to create before READY, as (name, partitions). The default value is none.</summary>
    public IList<(string Name, int Partitions)> Topics { get; } = [];

    /// <summary>
    /// Path of appliance-mockkafka.dll. The default value is null: the <c>APPLIANCE_MOCKKAFKA_DLL</c> environment
    /// variable, else appliance-mockkafka.dll beside the test assembly (reference the Appliance.MockKafka project).
    /// </summary>
    public string? DllPath { get; set; }

    /// <summary>How long to wait for the READY line. The default value is 30 seconds.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long to wait for the reply to one control command. The default value is 10 seconds.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// The mock cluster in a child process (appliance-mockkafka with <c>--control-stdin</c>): faults are injected by
/// commands over its stdin, so another process's cluster can be broken and healed (chaos tests). Dispose kills it;
/// <see cref="StopAsync"/> stops it gracefully with SIGTERM. If this process dies, the child reads end-of-file on
/// stdin and exits by itself.
/// </summary>
public sealed class MockKafkaProcess : IKafkaTestCluster
{
    /// <summary>Environment variable that overrides where appliance-mockkafka.dll is.</summary>
    public const string DllPathVariable = "APPLIANCE_MOCKKAFKA_DLL";

    private const string ReadyPrefix = "READY bootstrap=";
    private readonly SemaphoreSlim _commandLock = new(1, 1);
    private readonly TimeSpan _commandTimeout;

    private MockKafkaProcess(ChildProcess process, string bootstrapServers, int brokers, TimeSpan commandTimeout)
    {
        Process = process;
        BootstrapServers = bootstrapServers;
        BrokerCount = brokers;
        _commandTimeout = commandTimeout;
    }

    /// <summary>The child process (output lines, signals).</summary>
    public ChildProcess Process { get; }

    /// <summary>Number of brokers (ids 1..BrokerCount).</summary>
    public int BrokerCount { get; }

    /// <inheritdoc />
    public string BootstrapServers { get; }

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> ClientProperties { get; } = new Dictionary<string, string>();

    /// <inheritdoc />
    public string Description => $"librdkafka mock cluster ({BrokerCount} broker(s), process {Process.Id})";

    /// <inheritdoc />
    public bool SupportsFaultInjection => true;

    /// <summary>Default location of appliance-mockkafka.dll (see <see cref="MockKafkaProcessOptions.DllPath"/>).</summary>
    public static string DefaultDllPath =>
        Environment.GetEnvironmentVariable(DllPathVariable) is { Length: > 0 } path
            ? path
            : Path.Combine(AppContext.BaseDirectory, "appliance-mockkafka.dll");

    /// <summary>The command-line arguments <paramref name="options"/> map to.</summary>
    public static IReadOnlyList<string> Arguments(MockKafkaProcessOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var args = new List<string> { "--brokers", options.Brokers.ToString(CultureInfo.InvariantCulture), "--control-stdin" };
        if (options.PortBase is { } portBase)
        {
            args.AddRange(["--port-base", portBase.ToString(CultureInfo.InvariantCulture)]);
        }

        if (options.Bind is { } bind)
        {
            args.AddRange(["--bind", bind]);
        }

        if (options.AdvertiseHost is { } host)
        {
            args.AddRange(["--advertise-host", host]);
        }

        foreach (var (name, partitions) in options.Topics)
        {
            args.AddRange(["--topic", $"{name}:{partitions.ToString(CultureInfo.InvariantCulture)}"]);
        }

        return args;
    }

    /// <summary>Starts appliance-mockkafka and waits for its READY line.</summary>
    public static async Task<MockKafkaProcess> StartAsync(MockKafkaProcessOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new MockKafkaProcessOptions();
        var process = ChildProcess.StartDotnet(options.DllPath ?? DefaultDllPath, Arguments(options));
        try
        {
            var ready = await process.WaitForLineAsync(l => l.StartsWith(ReadyPrefix, StringComparison.Ordinal), options.StartTimeout, 0, cancellationToken);
            return new MockKafkaProcess(process, ready[ReadyPrefix.Length..].Trim(), options.Brokers, options.CommandTimeout);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends one control command line and returns the text after <c>ok</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process answered <c>error ...</c>.</exception>
    public async Task<string> SendCommandAsync(string command, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(command);
        await _commandLock.WaitAsync(cancellationToken);
        try
        {
            var from = Process.StdoutLineCount;
            await Process.WriteLineAsync(command);
            var reply = await Process.WaitForLineAsync(
                l => l == "ok" || l.StartsWith("ok ", StringComparison.Ordinal) || l.StartsWith("error", StringComparison.Ordinal),
                _commandTimeout, from, cancellationToken);
            return reply.StartsWith("ok", StringComparison.Ordinal)
                ? reply[2..].Trim()
                : throw new InvalidOperationException($"appliance-mockkafka: '{command}' -> {reply}");
        }
        finally
        {
            _commandLock.Release();
        }
    }

    /// <inheritdoc />
    public Task CreateTopicAsync(string name, int partitions, short replicationFactor = 1, CancellationToken cancellationToken = default) =>
        SendCommandAsync(FormattableString.Invariant($"create-topic {name} {partitions} {replicationFactor}"), cancellationToken);

    /// <inheritdoc />
    public Task SetBrokerDownAsync(int brokerId, CancellationToken cancellationToken = default) =>
        SendCommandAsync(FormattableString.Invariant($"down {brokerId}"), cancellationToken);

    /// <inheritdoc />
    public Task SetBrokerUpAsync(int brokerId, CancellationToken cancellationToken = default) =>
        SendCommandAsync(FormattableString.Invariant($"up {brokerId}"), cancellationToken);

    /// <inheritdoc />
    public Task SetAllBrokersDownAsync(CancellationToken cancellationToken = default) => SendCommandAsync("down all", cancellationToken);

    /// <inheritdoc />
    public Task SetAllBrokersUpAsync(CancellationToken cancellationToken = default) => SendCommandAsync("up all", cancellationToken);

    /// <inheritdoc />
    public Task SetRttAsync(int brokerId, int milliseconds, CancellationToken cancellationToken = default) =>
        SendCommandAsync(FormattableString.Invariant($"rtt {brokerId} {milliseconds}"), cancellationToken);

    /// <inheritdoc />
    public Task PushRequestErrorsAsync(short apiKey, IReadOnlyList<ErrorCode> errors, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var codes = string.Join(' ', errors.Select(e => ((int)e).ToString(CultureInfo.InvariantCulture)));
        return SendCommandAsync(FormattableString.Invariant($"errors {apiKey} {codes}"), cancellationToken);
    }

    /// <summary>Sends SIGTERM and waits for the exit; returns the exit code (0 = clean shutdown).</summary>
    public async Task<int> StopAsync(TimeSpan timeout)
    {
        Process.Terminate();
        return await Process.WaitForExitAsync(timeout);
    }

    /// <summary>Kills the process (SIGKILL) if it still runs, and reaps it.</summary>
    public void Dispose()
    {
        Process.Dispose();
        _commandLock.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Description} {BootstrapServers}";
}
