using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Status;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>
/// The status page in a real headless Chromium (phone-sized viewport). Screenshots are kept for CI under
/// <c>TestResults/status-page/</c> at the repository root (or <c>$APPLIANCE_TEST_ARTIFACTS/status-page/</c>).
/// </summary>
[Trait("Category", "Integration")]
public sealed class StatusPageBrowserTests
{
    [Fact]
    public async Task StatusPage_OfflineThenBackOnline_RendersWhatTheApiReports()
    {
        var fake = new FakeAppliance();
        fake.Ingest("critical", 10, 100);
        fake.Drain("critical", 10);
        fake.Time.Advance(TimeSpan.FromMinutes(1));
        fake.SetConnectivity(ConnectivityState.Offline);
        fake.Ingest("bulk", 2000, 50_000);
        fake.Ingest("critical", 25, 400);
        fake.Time.Advance(TimeSpan.FromDays(2) + TimeSpan.FromHours(3) + TimeSpan.FromMinutes(5));
        fake.Drop("bulk", "drop_oldest", 1234);

        await using var host = await OperationsTestHost.StartAsync(fake);
        await using var browser = await HeadlessChromium.LaunchAsync();
        await browser.SendAsync("Emulation.setDeviceMetricsOverride", new { width = 412, height = 915, deviceScaleFactor = 1, mobile = true });

        var api = JsonSerializer.Deserialize(await host.GetStringAsync(host.StatusUri, "/status.json"), StatusJsonContext.Default.ApplianceStatus)!;
        await browser.SendAsync("Page.navigate", new { url = host.StatusUri.ToString() });
        await WaitForSnapshotAsync(browser, api.TakenAt);
        var page = await ReadPageAsync(browser);

        Assert.Equal("store-0042", page["site"]!.GetValue<string>());
        Assert.Equal("1.4.2", page["version"]!.GetValue<string>());
        Assert.Equal("OFFLINE", page["connectivity"]!.GetValue<string>());
        Assert.Contains("offline", page["connectivityClass"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("2 d 3 h ago", page["since"]!.GetValue<string>());
        // Last delivery was one minute before the outage began.
        Assert.Equal("2 d 3 h ago", page["lastSync"]!.GetValue<string>());
        Assert.Equal("1,234 (see runbook: drops reported)", page["dropsTotal"]!.GetValue<string>());
        var bulk = api.Lane("bulk")!;
        Assert.Equal(100_000_000, bulk.BufferedBytes);
        // 100,000,000 of 256 MiB = 37 %.
        Assert.Equal("37%", page["lanes"]!["bulk"]!["fill"]!.GetValue<string>());
        Assert.Equal("95.4 MiB · 2,000 records", page["lanes"]!["bulk"]!["buffered"]!.GetValue<string>());
        Assert.Equal("2 d 3 h", page["lanes"]!["bulk"]!["oldest"]!.GetValue<string>());
        Assert.Equal("1,234", page["lanes"]!["bulk"]!["drops"]!.GetValue<string>());
        Assert.Equal("9.8 KiB · 25 records", page["lanes"]!["critical"]!["buffered"]!.GetValue<string>());
        Assert.Equal("0", page["lanes"]!["critical"]!["drops"]!.GetValue<string>());
        Assert.Equal("95.4 MiB of 1.0 GiB used", page["buffer"]!.GetValue<string>());
        await browser.ScreenshotAsync(Path.Combine(ArtifactDirectory(), "offline.png"));

        // Central comes back: critical drains, bulk partly; the page picks it up on its own refresh.
        fake.SetConnectivity(ConnectivityState.Online);
        fake.Drain("critical", 25);
        fake.Drain("bulk", 1500);
        fake.Time.Advance(TimeSpan.FromSeconds(20));
        var api2 = JsonSerializer.Deserialize(await host.GetStringAsync(host.StatusUri, "/status.json"), StatusJsonContext.Default.ApplianceStatus)!;
        await WaitForSnapshotAsync(browser, api2.TakenAt);
        var page2 = await ReadPageAsync(browser);
        Assert.Equal("ONLINE", page2["connectivity"]!.GetValue<string>());
        Assert.Equal("20 s ago", page2["lastSync"]!.GetValue<string>());
        Assert.Equal("nothing waiting", page2["lanes"]!["critical"]!["oldest"]!.GetValue<string>());
        Assert.Equal("23.8 MiB · 500 records", page2["lanes"]!["bulk"]!["buffered"]!.GetValue<string>());
        Assert.Equal("9%", page2["lanes"]!["bulk"]!["fill"]!.GetValue<string>());
        await browser.ScreenshotAsync(Path.Combine(ArtifactDirectory(), "online.png"));
    }

    [Fact]
    public async Task StatusPage_ServiceStopsAnswering_ShowsStaleWarning()
    {
        await using var host = await OperationsTestHost.StartAsync();
        await using var browser = await HeadlessChromium.LaunchAsync();
        var api = host.Fake.GetStatus();
        await browser.SendAsync("Page.navigate", new { url = host.StatusUri.ToString() });
        await WaitForSnapshotAsync(browser, api.TakenAt);
        host.Fake.ThrowOnRead = true;
        await browser.WaitUntilAsync("getComputedStyle(document.getElementById('error')).display === 'block'", "the stale-data warning");
        var text = (await browser.EvaluateAsync("document.getElementById('error').textContent"))!.GetValue<string>();
        Assert.Contains("Cannot read the forwarder status (HTTP 503)", text, StringComparison.Ordinal);
    }

    private static Task WaitForSnapshotAsync(HeadlessChromium browser, DateTimeOffset takenAt)
        => browser.WaitUntilAsync(
            $"!!document.body && document.body.dataset.renderedAt !== undefined && Date.parse(document.body.dataset.renderedAt) === {takenAt.ToUnixTimeMilliseconds()}",
            $"the snapshot taken at {takenAt:O}");

    private static async Task<JsonNode> ReadPageAsync(HeadlessChromium browser)
    {
        const string script = """
            (() => {
              const t = id => document.getElementById(id).textContent;
              const lanes = {};
              for (const tr of document.querySelectorAll('#lanes tr')) {
                const c = cls => tr.querySelector('td.' + cls).textContent;
                lanes[tr.dataset.lane] = { fill: c('fill'), buffered: c('buffered'), oldest: c('oldest'), drops: c('drops') };
              }
              return { site: t('site'), version: t('version'), connectivity: t('connectivity'),
                       connectivityClass: document.getElementById('connectivity').className,
                       since: t('connectivity-since'), lastSync: t('last-sync'), buffer: t('buffer'),
                       dropsTotal: t('drops-total'), lanes };
            })()
            """;
        return (await browser.EvaluateAsync(script))!;
    }

    private static string ArtifactDirectory()
    {
        var root = Environment.GetEnvironmentVariable("APPLIANCE_TEST_ARTIFACTS");
        if (string.IsNullOrEmpty(root))
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Appliance.sln")))
            {
                dir = dir.Parent;
            }

            root = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "TestResults");
        }

        return Path.Combine(root, "status-page");
    }
}
