using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Appliance.Core.Status;

namespace Appliance.Forwarder.Tests.Operations;

[Trait("Category", "Integration")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class HealthEndpointTests
{
    [Fact]
    public async Task Healthz_Readyz_HealthyAppliance_Return200()
    {
        await using var host = await OperationsTestHost.StartAsync();
        foreach (var uri in new[] { host.MetricsUri, host.StatusUri })
        {
            var (live, liveBody) = await GetAsync(host, uri, "/healthz");
            var (ready, readyBody) = await GetAsync(host, uri, "/readyz");
            Assert.Equal(HttpStatusCode.OK, live);
            Assert.Equal("healthy", liveBody.Trim());
            Assert.Equal(HttpStatusCode.OK, ready);
            Assert.Equal("ready", readyBody.Trim());
        }
    }

    [Fact]
    public async Task Readyz_CentralOffline_StaysReady()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.SetConnectivity(ConnectivityState.Offline);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(host, host.StatusUri, "/readyz")).Status);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(host, host.StatusUri, "/healthz")).Status);
    }

    [Fact]
    public async Task Readyz_EdgeUnreachableOrBufferClosed_Returns503WithReasonsButLive()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.EdgeReachable = false;
        host.Fake.BufferOpen = false;
        var (ready, body) = await GetAsync(host, host.StatusUri, "/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready);
        Assert.Contains("edge broker unreachable", body, StringComparison.Ordinal);
        Assert.Contains("buffer not open", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await GetAsync(host, host.StatusUri, "/healthz")).Status);
    }

    [Fact]
    public async Task Healthz_BufferFaulted_Returns503()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.Fault = "commit failed: disk I/O error";
        var (live, body) = await GetAsync(host, host.MetricsUri, "/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, live);
        Assert.Contains("buffer faulted: commit failed: disk I/O error", body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await GetAsync(host, host.MetricsUri, "/readyz")).Status);
    }

    [Fact]
    public async Task Healthz_StatusSourceThrows_Returns503()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.ThrowOnRead = true;
        var (live, body) = await GetAsync(host, host.MetricsUri, "/healthz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, live);
        Assert.Contains("status unavailable", body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusJson_ReturnsTheSourceSnapshot()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.Ingest("bulk", 4, 250);
        var json = await host.GetStringAsync(host.StatusUri, "/status.json");
        var status = JsonSerializer.Deserialize(json, StatusJsonContext.Default.ApplianceStatus)!;
        Assert.Equal("store-0042", status.SiteId);
        Assert.Equal(1000, status.Lane("bulk")!.BufferedBytes);
        Assert.Contains("\"connectivity\": \"Online\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Listeners_ServeOnlyTheirOwnRoutes()
    {
        await using var host = await OperationsTestHost.StartAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(host, host.StatusUri, "/v1/status")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(host, host.MetricsUri, "/v1/status")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(host, host.StatusUri, "/metrics")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await GetAsync(host, host.MetricsUri, "/")).Status);
        using var post = await host.Http.PostAsync(new Uri(host.StatusUri, "/v1/drain"), null);
        Assert.Equal(HttpStatusCode.NotFound, post.StatusCode);
        Assert.Empty(host.Fake.Commands);
    }

    [Fact]
    public async Task StatusPage_IsSelfContainedHtml()
    {
        await using var host = await OperationsTestHost.StartAsync();
        using var response = await host.Http.GetAsync(host.StatusUri);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("status.json", html, StringComparison.Ordinal);
        Assert.DoesNotContain("src=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"http", html, StringComparison.Ordinal);
        Assert.DoesNotContain("__REFRESH__", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AdminSocket_IsOwnerAndGroupOnly_AndServesStatus()
    {
        await using var host = await OperationsTestHost.StartAsync();
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(host.SocketPath));
        using var http = UnixHttp(host.SocketPath);
        var json = await http.GetStringAsync(new Uri("http://admin/v1/status"));
        Assert.Equal("store-0042", JsonSerializer.Deserialize(json, StatusJsonContext.Default.ApplianceStatus)!.SiteId);
        using var pause = await http.PostAsync(new Uri("http://admin/v1/lanes/bulk/pause"), null);
        Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
        Assert.True(host.Fake.GetStatus().Lane("bulk")!.Paused);
        using var unknown = await http.PostAsync(new Uri("http://admin/v1/lanes/nope/pause"), null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task StopAsync_RemovesAdminSocket()
    {
        string path;
        await using (var host = await OperationsTestHost.StartAsync())
        {
            path = host.SocketPath;
            Assert.True(File.Exists(path));
            await host.Host.StopAsync();
            Assert.False(File.Exists(path));
        }
    }

    private static HttpClient UnixHttp(string path) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    });

    private static async Task<(HttpStatusCode Status, string Body)> GetAsync(OperationsTestHost host, Uri baseUri, string path)
    {
        using var r = await host.Http.GetAsync(new Uri(baseUri, path));
        return (r.StatusCode, await r.Content.ReadAsStringAsync());
    }
}
