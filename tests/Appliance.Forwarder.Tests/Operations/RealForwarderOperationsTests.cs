using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Status;
using Appliance.Forwarder.Hosting;
using Appliance.Forwarder.Operations;
using Appliance.TestKit;
using Confluent.Kafka;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>The real forwarder host (ForwarderHostBuilder) with mock edge and central clusters, seen through its operations surface.</summary>
[Trait("Category", "Integration")]
public sealed class RealForwarderOperationsTests
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task RealService_CentralOutage_MetricsShowOfflineGrowingAgeAndDrainAfterReconnect()
    {
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("ops-real");
        var site = KafkaTestHelpers.UniqueName("site").ToLowerInvariant();
        var topic = KafkaTestHelpers.UniqueName("pos");
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        await edge.CreateTopicAsync(topic, 1);
        await central.CreateTopicAsync($"{site}.{topic}", 1);
        await central.CreateTopicAsync(checkpoints, 1);
        await central.CreateTopicAsync($"{site}._gaps", 1);
        var config = WriteConfig(dir, site, edge, central, topic, checkpoints);

        using var host = ForwarderHostBuilder.Build(new ForwarderArguments(config, null, []));
        await host.StartAsync();
        try
        {
            var ops = host.Services.GetRequiredService<OperationsServer>();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            using var producer = new ProducerBuilder<string, string>(edge.ProducerConfig()).Build();
            async Task ProduceAsync(int from, int count)
            {
                for (var i = from; i < from + count; i++)
                {
                    await producer.ProduceAsync(topic, new Message<string, string> { Key = $"k{i % 7}", Value = $"v{i}" });
                }
            }

            Task<MetricsText> WaitForAsync(string what, Func<MetricsText, bool> condition) => WaitForMetricsAsync(http, ops, what, condition);

            await ProduceAsync(0, 100);
            var online = await WaitForAsync("100 records drained while online", m =>
                m.Value("appliance_lane_drained_records_total", "lane=critical") == 100 && m.Value("appliance_connectivity_state", "state=online") == 1);
            Assert.Equal(0, online.Value("appliance_lane_buffered_records", "lane=critical"));
            Assert.Equal(site, SiteOf(online));
            Assert.True(online.Value("appliance_central_transactions_total", "result=committed") >= 1);
            Assert.True(online.Value("appliance_lane_ingested_bytes_total", "lane=critical") > 0);
            Assert.True(online.Value("appliance_last_successful_delivery_timestamp_seconds") > 0);

            await central.SetAllBrokersDownAsync();
            await ProduceAsync(100, 50);
            var offline = await WaitForAsync("offline with 50 records waiting", m =>
                m.Value("appliance_connectivity_state", "state=offline") == 1 && m.Value("appliance_lane_buffered_records", "lane=critical") == 50
                && m.Value("appliance_lane_oldest_unsent_age_seconds", "lane=critical") > 0);
            var older = await WaitForAsync("the oldest unsent age growing", m =>
                m.Value("appliance_lane_oldest_unsent_age_seconds", "lane=critical") >= offline.Value("appliance_lane_oldest_unsent_age_seconds", "lane=critical") + 2);
            Assert.True(older.Value("appliance_last_successful_delivery_age_seconds") >= 2);
            Assert.Equal(100, older.Value("appliance_lane_drained_records_total", "lane=critical"));
            using (var ready = await http.GetAsync(new Uri(ops.StatusUri!, "/readyz")))
            {
                Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
            }

            // The admin socket answers with the same picture, and takes commands.
            using var admin = UnixHttp(ops.AdminSocket!);
            var status = JsonSerializer.Deserialize(await admin.GetStringAsync(new Uri("http://admin/v1/status")), StatusJsonContext.Default.ApplianceStatus)!;
            // With a 1 s break duration the breaker alternates between open (offline) and a half-open trial (degraded).
            Assert.Contains(status.Connectivity, new[] { Core.Status.ConnectivityState.Offline, Core.Status.ConnectivityState.Degraded });
            Assert.Equal(50, status.Lane("critical")!.BufferedRecords);
            using (var pause = await admin.PostAsync(new Uri("http://admin/v1/lanes/critical/pause"), null))
            {
                Assert.Equal(HttpStatusCode.OK, pause.StatusCode);
            }

            await central.SetAllBrokersUpAsync();
            using (var drain = await admin.PostAsync(new Uri("http://admin/v1/drain"), null))
            {
                Assert.Equal(HttpStatusCode.OK, drain.StatusCode);
            }

            // The pause shows in the metrics; delivery of the backlog is checked after resuming.
            _ = await WaitForAsync("the lane paused", m => m.Value("appliance_lane_paused", "lane=critical") == 1);

            using (var resume = await admin.PostAsync(new Uri("http://admin/v1/lanes/critical/resume"), null))
            {
                Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
            }

            var drained = await WaitForAsync("the backlog drained after reconnect", m =>
                m.Value("appliance_lane_buffered_records", "lane=critical") == 0 && m.Value("appliance_lane_drained_records_total", "lane=critical") == 150);
            Assert.Equal(0, drained.Value("appliance_lane_oldest_unsent_age_seconds", "lane=critical"));
            Assert.True(drained.Value("appliance_last_successful_delivery_age_seconds") < older.Value("appliance_last_successful_delivery_age_seconds"));
        }
        finally
        {
            await host.StopAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>
    /// The edge consumer lag per partition: while a Block lane is full (central down) the records the ingest cannot
    /// take show as lag on their partition; after central is back and the lane drained, the lag returns to 0.
    /// </summary>
    [KafkaFact(FaultInjectionOn = KafkaClusterRole.Central)]
    public async Task RealService_BlockedLane_EdgeConsumerLagShowsRecordsNotTaken()
    {
        await using var edge = KafkaTestClusters.Edge();
        await using var central = KafkaTestClusters.Central();
        using var dir = new TempDirectory("ops-lag");
        var site = KafkaTestHelpers.UniqueName("site").ToLowerInvariant();
        var topic = KafkaTestHelpers.UniqueName("lag");
        var checkpoints = KafkaTestHelpers.UniqueName("cp");
        // Two partitions: 6 MB in all is more than the lane takes, and each partition stays under the mock's ~5 MiB
        // retention (a longer partition would lose its oldest records at the edge, which is not lag).
        await edge.CreateTopicAsync(topic, 2);
        await central.CreateTopicAsync($"{site}.{topic}", 2);
        await central.CreateTopicAsync(checkpoints, 1);
        await central.CreateTopicAsync($"{site}._gaps", 1);
        // 4 MiB is the smallest quota with 1 MiB segments: about 3,900 records of 1 KiB.
        var config = WriteConfig(dir, site, edge, central, topic, checkpoints, quotaBytes: 4L << 20);
        await central.SetAllBrokersDownAsync();
        using var host = ForwarderHostBuilder.Build(new ForwarderArguments(config, null, []));
        await host.StartAsync();
        try
        {
            var ops = host.Services.GetRequiredService<OperationsServer>();
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            const int total = 6000;
            using (var producer = new ProducerBuilder<string, string>(edge.ProducerConfig()).Build())
            {
                var value = new string('x', 1024);
                for (var i = 0; i < total; i++)
                {
                    producer.Produce(new TopicPartition(topic, i % 2), new Message<string, string> { Key = $"k{i % 7}", Value = value });
                }

                Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
            }

            double Lag(MetricsText m) => Enumerable.Range(0, 2).Sum(p => m.Has("appliance_edge_consumer_lag_records", $"topic={topic}", $"partition={p}")
                ? m.Value("appliance_edge_consumer_lag_records", $"topic={topic}", $"partition={p}") : double.NaN);
            var blocked = await WaitForMetricsAsync(http, ops, "the lane full and the rest of the topic as lag", m =>
                m.Value("appliance_lane_ingested_records_total", "lane=critical") > 0
                && Lag(m) + m.Value("appliance_lane_ingested_records_total", "lane=critical") == total);
            Assert.True(Lag(blocked) >= 1000, blocked.Text);

            await central.SetAllBrokersUpAsync();
            var caughtUp = await WaitForMetricsAsync(http, ops, "everything drained and no lag", m =>
                m.Value("appliance_lane_drained_records_total", "lane=critical") == total && Lag(m) == 0);
            Assert.Equal(0, caughtUp.Value("appliance_lane_buffered_records", "lane=critical"));
        }
        finally
        {
            await host.StopAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Scrapes the forwarder's metrics until <paramref name="condition"/> holds, or fails after the deadline with the last scrape.</summary>
    private static async Task<MetricsText> WaitForMetricsAsync(HttpClient http, OperationsServer ops, string what, Func<MetricsText, bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var m = new MetricsText(await http.GetStringAsync(new Uri(ops.MetricsUri!, "/metrics")));
            if (condition(m))
            {
                return m;
            }

            Assert.True(clock.Elapsed < Deadline, $"metrics never showed {what}:\n{m.Text}");
            await Task.Delay(100);
        }
    }

    private static string SiteOf(MetricsText m)
    {
        var line = m.Text.Split('\n').First(l => l.StartsWith("appliance_info{", StringComparison.Ordinal));
        var start = line.IndexOf("site=\"", StringComparison.Ordinal) + 6;
        return line[start..line.IndexOf('"', start)];
    }

    private static string WriteConfig(TempDirectory dir, string site, IKafkaTestCluster edge, IKafkaTestCluster central, string topic, string checkpoints, long quotaBytes = 32L << 20)
    {
        var edgeKafka = edge.ForwarderKafkaSection(("fetch.queue.backoff.ms", "10"));
        var centralKafka = central.ForwarderKafkaSection();
        var root = new JsonObject
        {
            ["Site"] = new JsonObject { ["Id"] = site },
            ["Buffer"] = new JsonObject
            {
                ["DataDirectory"] = dir.Combine("buffer"),
                ["TotalBudgetBytes"] = 2 * quotaBytes,
                ["SegmentSizeBits"] = 20,
                ["PageSizeBits"] = 18,
                ["MemorySizeBits"] = 20,
                ["Lanes"] = new JsonArray(new JsonObject { ["Name"] = "critical", ["QuotaBytes"] = quotaBytes }),
            },
            ["Edge"] = new JsonObject { ["BootstrapServers"] = edge.BootstrapServers, ["GroupId"] = $"fwd-{site}", ["Kafka"] = edgeKafka },
            ["Central"] = new JsonObject
            {
                ["BootstrapServers"] = central.BootstrapServers,
                ["CheckpointTopic"] = checkpoints,
                ["Compression"] = "None",
                ["TransactionTimeoutMs"] = 10000,
                ["Kafka"] = centralKafka,
            },
            ["Routes"] = new JsonArray(new JsonObject { ["Topics"] = new JsonArray(topic), ["Lane"] = "critical" }),
            ["Uplink"] = new JsonObject { ["BackoffBaseMs"] = 100, ["BackoffMaxMs"] = 1000, ["ProbeTimeoutMs"] = 2000, ["BreakDurationMs"] = 1000 },
            ["Operations"] = new JsonObject
            {
                ["MetricsAddress"] = "127.0.0.1", ["MetricsPort"] = 0, ["StatusAddress"] = "127.0.0.1", ["StatusPort"] = 0,
                ["AdminSocket"] = Path.Combine(Path.GetTempPath(), $"ops-{Guid.NewGuid():N}"[..20] + ".sock"),
            },
        };
        var path = dir.Combine("forwarder.json");
        File.WriteAllText(path, root.ToJsonString());
        return path;
    }

    private static HttpClient UnixHttp(string path) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, ct) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
            return new NetworkStream(s, ownsSocket: true);
        },
    }) { Timeout = TimeSpan.FromSeconds(10) };
}
