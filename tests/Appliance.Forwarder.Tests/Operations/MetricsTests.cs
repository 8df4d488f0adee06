using System.Diagnostics;
using Appliance.Core.Status;

namespace Appliance.Forwarder.Tests.Operations;

[Trait("Category", "Integration")]
public sealed class MetricsTests
{
    [Fact]
    public async Task Scrape_AcrossAnOutage_ShowsOfflineGrowingBacklogAndDrainAfterReconnect()
    {
        await using var host = await OperationsTestHost.StartAsync();
        var fake = host.Fake;
        fake.Ingest("critical", 10, 100);
        fake.Drain("critical", 10);

        var before = await ScrapeAsync(host);
        Assert.Equal(1, before.Value("appliance_connectivity_state", "state=online", "site=store-0042"));
        Assert.Equal(0, before.Value("appliance_connectivity_state", "state=offline"));
        Assert.Equal(0, before.Value("appliance_lane_buffered_records", "lane=critical"));
        Assert.Equal(0, before.Value("appliance_lane_oldest_unsent_age_seconds", "lane=critical"));
        Assert.Equal(10, before.Value("appliance_lane_drained_records_total", "lane=critical"));
        Assert.Equal(1000, before.Value("appliance_lane_drained_bytes_total", "lane=critical"));
        Assert.Equal(1, before.Value("appliance_central_transactions_total", "result=committed"));
        Assert.Equal(1, before.Value("appliance_lane_info", "lane=bulk", "priority=1", "policy=drop-oldest"));

        // Central goes away; records keep arriving for six hours.
        fake.SetConnectivity(ConnectivityState.Offline);
        fake.Abort();
        fake.Ingest("critical", 5, 200);
        fake.Ingest("bulk", 100, 1000);
        fake.Time.Advance(TimeSpan.FromHours(2));
        var twoHours = await ScrapeAsync(host);
        fake.Ingest("bulk", 100, 1000);
        fake.Time.Advance(TimeSpan.FromHours(4));
        fake.Drop("bulk", "drop_oldest", 7);
        var sixHours = await ScrapeAsync(host);

        Assert.Equal(1, twoHours.Value("appliance_connectivity_state", "state=offline"));
        Assert.Equal(0, twoHours.Value("appliance_connectivity_state", "state=online"));
        Assert.Equal(1, twoHours.Value("appliance_circuit_breaker_state", "state=open"));
        Assert.Equal(7200, twoHours.Value("appliance_lane_oldest_unsent_age_seconds", "lane=bulk"));
        Assert.Equal(21600, sixHours.Value("appliance_lane_oldest_unsent_age_seconds", "lane=bulk"));
        Assert.Equal(21600, sixHours.Value("appliance_last_successful_delivery_age_seconds"));
        Assert.Equal(100_000, twoHours.Value("appliance_lane_buffered_bytes", "lane=bulk"));
        Assert.Equal(200_000, sixHours.Value("appliance_lane_buffered_bytes", "lane=bulk"));
        Assert.Equal(200, sixHours.Value("appliance_lane_buffered_records", "lane=bulk"));
        Assert.Equal(200, sixHours.Value("appliance_lane_ingested_records_total", "lane=bulk"));
        Assert.Equal(7, sixHours.Value("appliance_lane_dropped_records_total", "lane=bulk", "reason=drop_oldest"));
        Assert.Equal(1, sixHours.Value("appliance_lane_gap_markers_sent_total", "lane=bulk"));
        Assert.Equal(1, sixHours.Value("appliance_central_transactions_total", "result=aborted"));
        Assert.Equal(fake.ConnectivitySince!.Value.ToUnixTimeSeconds(), sixHours.Value("appliance_connectivity_changed_timestamp_seconds"));

        // Back online: critical first, then the bulk backlog drains.
        fake.SetConnectivity(ConnectivityState.Online);
        fake.Drain("critical", 5);
        fake.Drain("bulk", 150);
        fake.Time.Advance(TimeSpan.FromSeconds(30));
        var after = await ScrapeAsync(host);
        Assert.Equal(1, after.Value("appliance_connectivity_state", "state=online"));
        Assert.Equal(0, after.Value("appliance_lane_buffered_records", "lane=critical"));
        Assert.Equal(50, after.Value("appliance_lane_buffered_records", "lane=bulk"));
        Assert.Equal(150, after.Value("appliance_lane_drained_records_total", "lane=bulk"));
        Assert.Equal(30, after.Value("appliance_last_successful_delivery_age_seconds"));
        // The oldest remaining bulk record was ingested at the two-hour mark: 4 h 30 s ago.
        Assert.Equal((4 * 3600) + 30, after.Value("appliance_lane_oldest_unsent_age_seconds", "lane=bulk"));
        Assert.Equal(3, after.Value("appliance_central_transactions_total", "result=committed"));
        Assert.Equal(12, after.Value("appliance_edge_consumer_lag_records", "topic=pos.sales", "partition=0"));
    }

    [Fact]
    public async Task Scrape_StatusSourceFails_ReportsStatusDownAndCountsError()
    {
        await using var host = await OperationsTestHost.StartAsync();
        Assert.Equal(1, (await ScrapeAsync(host)).Value("appliance_status_up"));
        host.Fake.ThrowOnRead = true;
        var failed = await ScrapeAsync(host);
        Assert.Equal(0, failed.Value("appliance_status_up"));
        Assert.Equal(1, failed.Value("appliance_status_errors_total"));
    }

    [Fact]
    public async Task Scrape_LaneRemoved_DropsItsSeries()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.AddLane("normal", "drop-newest", 32L << 20);
        host.Fake.Drop("normal", "drop_newest", 1);
        var with = await ScrapeAsync(host);
        Assert.True(with.Has("appliance_lane_buffered_bytes", "lane=normal"));
        Assert.True(with.Has("appliance_lane_dropped_records_total", "lane=normal"));

        host.Fake.RemoveLane("normal");
        var without = await ScrapeAsync(host);
        Assert.False(without.Has("appliance_lane_buffered_bytes", "lane=normal"));
        Assert.False(without.Has("appliance_lane_dropped_records_total", "lane=normal"));
        Assert.False(without.Has("appliance_lane_info", "lane=normal"));
        Assert.True(without.Has("appliance_lane_buffered_bytes", "lane=bulk"));
    }

    [Fact]
    public async Task Scrape_IncludesProcessMetrics()
    {
        await using var host = await OperationsTestHost.StartAsync();
        var m = await ScrapeAsync(host);
        Assert.True(m.Has("process_cpu_seconds_total"));
        Assert.True(m.Has("process_working_set_bytes"));
        Assert.True(m.Has("process_open_handles"));
    }

    [Fact]
    public async Task PromtoolCheckMetrics_RealScrape_Passes()
    {
        await using var host = await OperationsTestHost.StartAsync();
        host.Fake.Ingest("bulk", 3, 10);
        host.Fake.Drop("bulk", "ttl", 2);
        host.Fake.SetConnectivity(ConnectivityState.Offline);
        var text = await host.GetStringAsync(host.MetricsUri, "/metrics");
        var promtool = new[] { "/usr/bin/promtool", "/usr/local/bin/promtool" }.FirstOrDefault(File.Exists);
        Assert.True(promtool is not null, "promtool is not installed: the test setup must run 'apt-get install prometheus'");

        using var p = Process.Start(new ProcessStartInfo(promtool, "check metrics")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.StandardInput.WriteAsync(text);
        p.StandardInput.Close();
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await p.WaitForExitAsync(deadline.Token);
        var report = (await stdout) + (await stderr);
        Assert.True(p.ExitCode == 0 && report.Trim().Length == 0, $"promtool check metrics (exit {p.ExitCode}):\n{report}");
    }

    private static async Task<MetricsText> ScrapeAsync(OperationsTestHost host) => new(await host.GetStringAsync(host.MetricsUri, "/metrics"));
}
