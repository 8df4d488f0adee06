using System.Net.Sockets;
using System.Text;
using Appliance.Forwarder.Operations;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Hosting.Systemd;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>NOTIFY_SOCKET and WATCHDOG_USEC are process-wide, so these tests run alone.</summary>
[CollectionDefinition(nameof(SystemdEnvironment), DisableParallelization = true)]
public sealed class SystemdEnvironment;

[Collection(nameof(SystemdEnvironment))]
[Trait("Category", "Integration")]
public sealed class SystemdNotifyTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task NotifyProtocol_HealthyThenFaultedThenHealed_ReadyPingsOnlyWhileHealthyStopping()
    {
        using var notify = new NotifySocket(watchdogUsec: "2000000");
        var socket = notify.Socket;
        var host = await OperationsTestHost.StartAsync(configure: AsUnderSystemd);
        var stopped = false;
        try
        {
            var watchdog = host.Host.Services.GetRequiredService<SystemdWatchdog>();
            var seen = new List<string>();
            // READY=1 comes from AddSystemd's lifetime, the first WATCHDOG=1 from our watchdog's first evaluation; either may come first.
            while (!(seen.Contains("READY=1") && seen.Contains("WATCHDOG=1")))
            {
                seen.Add(await ReceiveAsync(socket));
            }

            Assert.Equal(TimeSpan.FromSeconds(1), watchdog.Interval);
            await WaitForTicksAsync(watchdog, 1);

            // Healthy: one ping per interval.
            host.Fake.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal("WATCHDOG=1", await ReceiveAsync(socket));
            await WaitForTicksAsync(watchdog, 2);
            Assert.Equal(0, socket.Available);

            // Faulted buffer: evaluations continue, pings stop.
            host.Fake.Fault = "device error";
            for (var i = 3; i <= 6; i++)
            {
                host.Fake.Time.Advance(TimeSpan.FromSeconds(1));
                await WaitForTicksAsync(watchdog, i);
            }

            Assert.Equal(0, socket.Available);
            Assert.Equal(2, watchdog.Pings);

            // Healed: pings resume.
            host.Fake.Fault = null;
            host.Fake.Time.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal("WATCHDOG=1", await ReceiveAsync(socket));
            await WaitForTicksAsync(watchdog, 7);

            await host.Host.StopAsync();
            stopped = true;
            var after = new List<string>();
            while (!after.Contains("STOPPING=1"))
            {
                after.Add(await ReceiveAsync(socket));
            }

            Assert.DoesNotContain("WATCHDOG=1", after);
        }
        finally
        {
            if (!stopped)
            {
                await host.Host.StopAsync();
            }

            await host.DisposeAsync();
        }
    }

    [Fact]
    public async Task Watchdog_NoWatchdogUsec_StaysInert()
    {
        using var notify = new NotifySocket(watchdogUsec: null);
        var socket = notify.Socket;
        await using (var host = await OperationsTestHost.StartAsync(configure: AsUnderSystemd))
        {
            Assert.Equal("READY=1", await ReceiveAsync(socket));
            var watchdog = host.Host.Services.GetRequiredService<SystemdWatchdog>();
            Assert.Null(watchdog.Interval);
            host.Fake.Time.Advance(TimeSpan.FromMinutes(5));
            await host.Host.StopAsync();
            Assert.Equal("STOPPING=1", await ReceiveAsync(socket));
            Assert.Equal(0, watchdog.Pings);
        }
    }

    [Theory]
    [Trait("Category", "Unit")]
    [InlineData("2000000", null, 1000)]
    [InlineData("30000000", null, 15000)]
    [InlineData("0", null, -1)]
    [InlineData("abc", null, -1)]
    [InlineData(null, null, -1)]
    [InlineData("2000000", "1", -1)]
    public void ReadInterval_Environment_HalfOfWatchdogUsecForThisProcess(string? usec, string? pid, int expectedMs)
    {
        var env = new Dictionary<string, string?> { ["WATCHDOG_USEC"] = usec, ["WATCHDOG_PID"] = pid };
        var interval = SystemdWatchdog.ReadInterval(k => env.GetValueOrDefault(k));
        Assert.Equal(expectedMs < 0 ? null : TimeSpan.FromMilliseconds(expectedMs), interval);
    }

    /// <summary>
    /// What AddSystemd() registers when it detects systemd. Registered directly because its detection is cached per
    /// process: a host built earlier without NOTIFY_SOCKET (another test) would make it inert here.
    /// </summary>
    private static void AsUnderSystemd(IServiceCollection services)
    {
        services.AddSingleton<ISystemdNotifier, SystemdNotifier>();
        services.AddSingleton<IHostLifetime, SystemdLifetime>();
    }

    /// <summary>
    /// A datagram socket standing in for systemd's notify socket, named in NOTIFY_SOCKET (and the watchdog variables
    /// for this process when <c>watchdogUsec</c> is given); disposing clears the variables and removes the socket.
    /// </summary>
    private sealed class NotifySocket : IDisposable
    {
        private readonly string _dir = Path.Combine(Path.GetTempPath(), "sdn-" + Guid.NewGuid().ToString("N")[..10]);

        public NotifySocket(string? watchdogUsec)
        {
            Directory.CreateDirectory(_dir);
            var path = Path.Combine(_dir, "notify.sock");
            Socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            Socket.Bind(new UnixDomainSocketEndPoint(path));
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", path);
            if (watchdogUsec is not null)
            {
                Environment.SetEnvironmentVariable("WATCHDOG_USEC", watchdogUsec);
                Environment.SetEnvironmentVariable("WATCHDOG_PID", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        public Socket Socket { get; }

        public void Dispose()
        {
            Environment.SetEnvironmentVariable("NOTIFY_SOCKET", null);
            Environment.SetEnvironmentVariable("WATCHDOG_USEC", null);
            Environment.SetEnvironmentVariable("WATCHDOG_PID", null);
            Socket.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private static async Task<string> ReceiveAsync(Socket socket)
    {
        var buffer = new byte[512];
        using var cts = new CancellationTokenSource(Deadline);
        var n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
        return Encoding.UTF8.GetString(buffer, 0, n).Trim();
    }

    private static async Task WaitForTicksAsync(SystemdWatchdog watchdog, long ticks)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (watchdog.Ticks < ticks)
        {
            Assert.True(clock.Elapsed < Deadline, $"watchdog reached {watchdog.Ticks} evaluations, expected {ticks}");
            await Task.Delay(10);
        }
    }
}
