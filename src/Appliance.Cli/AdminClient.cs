using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Appliance.Core.Status;

namespace Appliance.Cli;

/// <summary>Why the admin API could not be used; carries the exit code and one line for the operator.</summary>
public sealed class AdminUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public AdminUnavailableException(string message, int exitCode, Exception? inner = null)
        : base(message, inner) => ExitCode = exitCode;

    /// <summary>Exit code to return.</summary>
    public int ExitCode { get; }
}

/// <summary>Client of the forwarder's admin API over its Unix domain socket.</summary>
public sealed class AdminClient : IDisposable
{
    /// <summary>Where the forwarder listens unless configured otherwise (<c>Operations:AdminSocket</c>).</summary>
    public const string DefaultSocket = "/run/appliance/admin.sock";

    private readonly HttpClient _http;

    /// <summary>Creates a client for the socket at <paramref name="socketPath"/>.</summary>
    public AdminClient(string socketPath, TimeSpan timeout)
    {
        SocketPath = socketPath;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://appliance/"), Timeout = timeout };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
    }

    /// <summary>The socket path.</summary>
    public string SocketPath { get; }

    /// <summary>Reads the status snapshot.</summary>
    public async Task<ApplianceStatus> GetStatusAsync(CancellationToken ct)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Get, "v1/status"), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        if (!response.IsSuccessStatusCode)
        {
            throw new AdminUnavailableException($"appliance-forwarder answered {(int)response.StatusCode}: {body.Trim()}", ExitCodes.Failure);
        }

        return JsonSerializer.Deserialize(body, StatusJsonContext.Default.ApplianceStatus)
            ?? throw new AdminUnavailableException("appliance-forwarder returned an empty status", ExitCodes.Failure);
    }

    /// <summary>Sends a command (<c>POST</c>); returns the HTTP status and the reply.</summary>
    public async Task<(HttpStatusCode Status, CommandReply Reply)> PostAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(new HttpRequestMessage(HttpMethod.Post, path), ct);
        var body = await response.Content.ReadAsStringAsync(ct);
        CommandReply? reply = null;
        try
        {
            reply = JsonSerializer.Deserialize(body, StatusJsonContext.Default.CommandReply);
        }
        catch (JsonException)
        {
            // Not a command reply (e.g. 404 for an unknown route from an older service); reported below.
        }

        return (response.StatusCode, reply ?? new CommandReply(ControlOutcome.Unavailable, $"unexpected reply {(int)response.StatusCode}: {body.Trim()}"));
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken ct)
    {
        using (request)
        {
            if (!File.Exists(SocketPath))
            {
                throw new AdminUnavailableException($"appliance-forwarder is not running (no socket at {SocketPath})", ExitCodes.NotRunning);
            }

            try
            {
                return await _http.SendAsync(request, ct);
            }
            catch (HttpRequestException e) when (e.InnerException is SocketException s)
            {
                throw s.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => new AdminUnavailableException($"appliance-forwarder is not running (nothing listens on {SocketPath})", ExitCodes.NotRunning, e),
                    SocketError.AccessDenied => new AdminUnavailableException($"permission denied on {SocketPath}: run appliancectl as root or as a member of the forwarder's group", ExitCodes.Failure, e),
                    _ => new AdminUnavailableException($"cannot reach appliance-forwarder on {SocketPath}: {s.Message}", ExitCodes.NotRunning, e),
                };
            }
            catch (TaskCanceledException e) when (!ct.IsCancellationRequested)
            {
                throw new AdminUnavailableException($"appliance-forwarder did not answer on {SocketPath} within {_http.Timeout.TotalSeconds:0} s", ExitCodes.Failure, e);
            }
        }
    }
}
