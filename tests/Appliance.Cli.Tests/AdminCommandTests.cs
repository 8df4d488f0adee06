using System.Net.Sockets;
using System.Text.Json;
using Appliance.Core.Status;
using Appliance.Forwarder.Tests.Operations;

namespace Appliance.Cli.Tests;

[Trait("Category", "Integration")]
public sealed class AdminCommandTests
{
    private static FakeAppliance OutageFake()
    {
        var fake = new FakeAppliance();
        fake.Ingest("critical", 10, 100);
        fake.Drain("critical", 10);
        fake.Time.Advance(TimeSpan.FromMinutes(1));
        fake.SetConnectivity(ConnectivityState.Offline);
        fake.Abort();
        fake.Ingest("bulk", 2000, 50_000);
        fake.Ingest("critical", 25, 400);
        fake.Time.Advance(TimeSpan.FromHours(27) + TimeSpan.FromMinutes(5));
        fake.Drop("bulk", "ttl", 1234);
        return fake;
    }

    [Fact]
    public async Task Status_ServiceRunning_PrintsHumanSummary()
    {
        await using var host = await OperationsTestHost.StartAsync(OutageFake());
        var (exit, output, error) = await CliRunner.RunAsync("status", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("", error);
        Golden.Match("status.txt", output);
    }

    [Fact]
    public async Task StatusJson_ServiceRunning_PrintsTheApiSnapshot()
    {
        await using var host = await OperationsTestHost.StartAsync(OutageFake());
        var (exit, output, _) = await CliRunner.RunAsync("status", "--json", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.Ok, exit);
        var status = JsonSerializer.Deserialize(output, StatusJsonContext.Default.ApplianceStatus)!;
        var expected = host.Fake.GetStatus();
        Assert.Equal(expected.Connectivity, status.Connectivity);
        Assert.Equal(expected.Lane("bulk")!.BufferedBytes, status.Lane("bulk")!.BufferedBytes);
        Assert.Equal(1234, status.Lane("bulk")!.DroppedRecordsTotal["ttl"]);
        Assert.Equal(expected.TakenAt, status.TakenAt);
    }

    [Fact]
    public async Task Lanes_ServiceRunning_PrintsTable()
    {
        await using var host = await OperationsTestHost.StartAsync(OutageFake());
        var (exit, output, _) = await CliRunner.RunAsync("lanes", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.Ok, exit);
        Golden.Match("lanes.txt", output);
        var (jexit, json, _) = await CliRunner.RunAsync("lanes", "--json", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.Ok, jexit);
        var lanes = JsonSerializer.Deserialize(json, StatusJsonContext.Default.IReadOnlyListLaneStatus)!;
        Assert.Equal(["critical", "bulk"], lanes.Select(l => l.Name));
    }

    [Fact]
    public async Task Drain_ServiceRunning_TriggersDrain()
    {
        await using var host = await OperationsTestHost.StartAsync();
        var (exit, output, _) = await CliRunner.RunAsync("drain", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Equal("drain triggered\n", output);
        Assert.Equal(["drain"], host.Fake.Commands);
    }

    [Fact]
    public async Task PauseResume_KnownLane_ChangesStateAndReportsRepeats()
    {
        await using var host = await OperationsTestHost.StartAsync();
        var sock = host.SocketPath;
        Assert.Equal((ExitCodes.Ok, "lane 'bulk' paused\n", ""), await CliRunner.RunAsync("pause", "bulk", "--socket", sock));
        Assert.True(host.Fake.GetStatus().Lane("bulk")!.Paused);
        Assert.Equal((ExitCodes.Ok, "lane 'bulk' was already paused\n", ""), await CliRunner.RunAsync("pause", "bulk", "--socket", sock));
        var (_, lanes, _) = await CliRunner.RunAsync("lanes", "--socket", sock);
        Assert.Contains("PAUSED", lanes, StringComparison.Ordinal);
        Assert.Equal((ExitCodes.Ok, "lane 'bulk' resumed\n", ""), await CliRunner.RunAsync("resume", "bulk", "--socket", sock));
        Assert.False(host.Fake.GetStatus().Lane("bulk")!.Paused);
    }

    [Fact]
    public async Task Pause_UnknownLane_ExitsNotFound()
    {
        await using var host = await OperationsTestHost.StartAsync();
        var (exit, output, error) = await CliRunner.RunAsync("pause", "nope", "--socket", host.SocketPath);
        Assert.Equal(ExitCodes.NotFound, exit);
        Assert.Equal("", output);
        Assert.Equal("appliancectl: no lane named 'nope'\n", error);
    }

    [Theory]
    [InlineData("status")]
    [InlineData("status", "--json")]
    [InlineData("lanes")]
    [InlineData("drain")]
    [InlineData("pause", "bulk")]
    [InlineData("resume", "bulk")]
    public async Task AnyAdminCommand_NoSocket_SaysNotRunningAndExits3(params string[] command)
    {
        var path = Path.Combine(Path.GetTempPath(), "absent-" + Guid.NewGuid().ToString("N")[..8], "admin.sock");
        var (exit, output, error) = await CliRunner.RunAsync([.. command, "--socket", path]);
        Assert.Equal(ExitCodes.NotRunning, exit);
        Assert.Equal("", output);
        Assert.Equal($"appliance-forwarder is not running (no socket at {path})\n", error);
    }

    [Fact]
    public async Task Status_StaleSocketFileWithoutListener_SaysNotRunning()
    {
        var dir = Path.Combine(Path.GetTempPath(), "stale-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var path = Path.Combine(dir, "admin.sock");
        try
        {
            using (var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified))
            {
                // .NET unlinks a socket file it bound when the socket closes; a hard link keeps the inode, as a killed
                // service leaves its socket file behind.
                var bound = Path.Combine(dir, "bound.sock");
                listener.Bind(new UnixDomainSocketEndPoint(bound));
                Assert.Equal(0, Link(bound, path));
            }

            Assert.True(File.Exists(path));
            var (exit, _, error) = await CliRunner.RunAsync("status", "--socket", path);
            Assert.Equal(ExitCodes.NotRunning, exit);
            Assert.Equal($"appliance-forwarder is not running (nothing listens on {path})\n", error);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "link", SetLastError = true)]
    private static extern int Link([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string existing, [System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string created);

    [Fact]
    public async Task Help_Status_NamesTheSocketDefaults()
    {
        var (_, help, _) = await CliRunner.RunAsync("status", "--help");
        Assert.Contains(ApplianceCtl.SocketVariable, help, StringComparison.Ordinal);
        Assert.Contains(AdminClient.DefaultSocket, help, StringComparison.Ordinal);
    }

    [Fact]
    public async Task UnknownCommand_ExitsUsage()
    {
        var (exit, _, error) = await CliRunner.RunAsync("frobnicate");
        Assert.Equal(ExitCodes.Usage, exit);
        Assert.Contains("frobnicate", error, StringComparison.Ordinal);
    }
}
