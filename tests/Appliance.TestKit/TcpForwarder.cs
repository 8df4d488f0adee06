using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace Appliance.TestKit;

/// <summary>
/// Forwards every TCP connection accepted on one endpoint to a target endpoint, byte for byte. Used to expose a
/// mock broker (which librdkafka binds to an ephemeral 127.0.0.1 port) on a fixed port or another address. A
/// connection the target refuses (e.g. a mock broker set down) is closed at once, as a refused connect would be.
/// </summary>
public sealed class TcpForwarder : IDisposable, IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<Socket, byte> _sockets = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    /// <summary>Starts listening on <paramref name="listen"/> (port 0 = any free port) and forwarding to <paramref name="target"/>.</summary>
    public TcpForwarder(IPEndPoint listen, IPEndPoint target)
    {
        ArgumentNullException.ThrowIfNull(listen);
        _target = target ?? throw new ArgumentNullException(nameof(target));
        _listener = new TcpListener(listen);
        // A fixed port must be re-bindable right after a previous run (connections in TIME_WAIT).
        _listener.Server.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        _listener.Start(backlog: 64);
        LocalEndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>The endpoint actually listened on (with the real port when 0 was asked for).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>The endpoint connections are forwarded to.</summary>
    public IPEndPoint Target => _target;

    /// <summary>Stops listening and closes every forwarded connection.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        _listener.Stop();
        foreach (var socket in _sockets.Keys)
        {
            socket.Dispose();
        }

        try
        {
            await _acceptLoop;
        }
        catch (OperationCanceledException)
        {
            // Expected on stop.
        }

        _stop.Dispose();
    }

    /// <inheritdoc cref="DisposeAsync"/>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException && _stop.IsCancellationRequested)
            {
                return;
            }
            catch (SocketException)
            {
                // A connection reset before accept completed: keep serving others.
                continue;
            }

            _ = ForwardAsync(client);
        }
    }

    private async Task ForwardAsync(Socket client)
    {
        var upstream = new Socket(_target.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Track(client);
        Track(upstream);
        try
        {
            // Kafka is request/response: Nagle would add up to 40 ms per round trip.
            client.NoDelay = true;
            upstream.NoDelay = true;
            await upstream.ConnectAsync(_target, _stop.Token);
            using var pair = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
            var toUpstream = PumpAsync(client, upstream, pair.Token);
            var toClient = PumpAsync(upstream, client, pair.Token);
            await Task.WhenAny(toUpstream, toClient);
            await pair.CancelAsync();
            await Task.WhenAll(toUpstream, toClient);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException)
        {
            // Target refused or a side closed: closing both sides below is the whole handling.
        }
        finally
        {
            Untrack(client);
            Untrack(upstream);
        }
    }

    private static async Task PumpAsync(Socket from, Socket to, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (true)
            {
                var read = await from.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
                if (read == 0)
                {
                    return;
                }

                var sent = 0;
                while (sent < read)
                {
                    sent += await to.SendAsync(buffer.AsMemory(sent, read - sent), SocketFlags.None, cancellationToken);
                }
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // One side went away; the caller closes both.
        }
    }

    private void Track(Socket socket)
    {
        _sockets[socket] = 0;
        if (_stop.IsCancellationRequested)
        {
            socket.Dispose();
        }
    }

    private void Untrack(Socket socket)
    {
        _sockets.TryRemove(socket, out _);
        socket.Dispose();
    }
}
