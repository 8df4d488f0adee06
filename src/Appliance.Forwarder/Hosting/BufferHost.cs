using Appliance.Buffer;
using Appliance.Forwarder.Options;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Appliance.Forwarder.Hosting;

/// <summary>
/// Opens the durable buffer when the host starts (registered first, so it is open before ingest and drain start)
/// and closes it last, after they stopped.
/// </summary>
public sealed class BufferHost : IHostedService, IAsyncDisposable
{
    private readonly ForwarderConfiguration _config;
    private readonly ILoggerFactory _loggerFactory;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private DurableBuffer? _buffer;

    /// <summary>Creates the host of the buffer.</summary>
    public BufferHost(IOptions<ForwarderConfiguration> config, ILoggerFactory loggerFactory, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _config = config.Value;
        _loggerFactory = loggerFactory;
        _time = time;
        _logger = loggerFactory.CreateLogger<BufferHost>();
    }

    /// <summary>The open buffer.</summary>
    /// <exception cref="InvalidOperationException">The host has not started.</exception>
    public DurableBuffer Buffer => _buffer ?? throw new InvalidOperationException("the buffer is not open yet");

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken)
    {
        _buffer = DurableBuffer.Open(_config.Buffer, _loggerFactory, _time);
        _buffer.RecordsDropped += (lane, reason, count) => Log.RecordsDropped(_logger, lane, reason.ToLabel(), count);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync();

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        var b = Interlocked.Exchange(ref _buffer, null);
        if (b is not null)
        {
            await b.DisposeAsync();
        }
    }
}

/// <summary>Records a fatal failure of a background service so the process exits non-zero.</summary>
public sealed class ForwarderHealth
{
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private Exception? _fault;

    /// <summary>Creates the health record.</summary>
    public ForwarderHealth(IHostApplicationLifetime lifetime, ILogger<ForwarderHealth> logger)
    {
        _lifetime = lifetime;
        _logger = logger;
    }

    /// <summary>The first fatal failure, or null.</summary>
    public Exception? Fault => Volatile.Read(ref _fault);

    /// <summary>Records a fatal failure of <paramref name="service"/> and stops the host.</summary>
    public void Fail(string service, Exception e)
    {
        Interlocked.CompareExchange(ref _fault, e, null);
        Log.ServiceFailed(_logger, e, service);
        _lifetime.StopApplication();
    }
}
