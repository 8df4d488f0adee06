using System.Diagnostics;
using System.Globalization;
using Appliance.Core.Records;
using Appliance.Forwarder.Drain;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Benchmarks.Produce;

/// <summary>
/// What per-record headers cost a Confluent.Kafka producer, and what the C allocator has to do with it: 100 B records
/// with 0, 1, 3 and 6 headers (until 2026-12-02 the forwarder added six provenance headers, now one) produced to an
/// in-process mock cluster (idempotent, acks=all, no delivery reports), and the forwarder's provenance header through
/// its direct path, with glibc malloc and with jemalloc preloaded (a child
/// process per allocator, since LD_PRELOAD only acts at process start).
/// </summary>
internal sealed class ProduceBenchmark : IBenchmark
{
    public string Name => "produce";

    public string Description => "producer cost of 0/1/3/6 headers per 100 B record (and the forwarder's provenance header through its direct path), glibc malloc vs jemalloc [--records 1000000] [--malloc glibc|jemalloc|both]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var records = BenchmarkArgs.Int(args, "--records", 1_000_000);
        var malloc = BenchmarkArgs.Value(args, "--malloc") ?? "both";
        if (malloc == "both")
        {
            if (!File.Exists(BenchmarkArgs.Jemalloc))
            {
                Console.Error.WriteLine($"{BenchmarkArgs.Jemalloc} is missing (apt-get install libjemalloc2); use --malloc glibc");
                return 2;
            }

            Console.WriteLine($"| allocator | headers | records/s | CPU µs per record |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var m in new[] { "glibc", "jemalloc", "glibc", "jemalloc" })
            {
                var options = new ChildProcessOptions { CloseStdin = true };
                if (m == "jemalloc")
                {
                    options.Environment["LD_PRELOAD"] = BenchmarkArgs.Jemalloc;
                }

                await using var child = ChildProcess.StartDotnet(typeof(ProduceBenchmark).Assembly.Location, ["produce", "--records", records.ToString(CultureInfo.InvariantCulture), "--malloc", m], options);
                var exit = await child.WaitForExitAsync(TimeSpan.FromMinutes(10));
                foreach (var line in child.StdoutLines.Where(l => l.StartsWith('|')))
                {
                    Console.WriteLine(line);
                }

                if (exit != 0)
                {
                    Console.Error.WriteLine(string.Join("\n", child.StderrLines.TakeLast(20)));
                    return exit;
                }
            }

            return 0;
        }

        using var cluster = new MockKafkaCluster();
        cluster.CreateTopic("t", 4);
        // The names of the six provenance headers the forwarder wrote until 2026-12-02.
        string[] names = ["edge.site", "edge.topic", "edge.partition", "edge.offset", "edge.timestamp", "edge.lane"];
        var headerValue = "1795581716925"u8.ToArray();
        var value = new byte[100];
        var key = new byte[8];
        var record = new EdgeRecord(new SourcePosition("sensors", 3, 1_795_581_716), 1_795_581_716_925, key, value);
        var site = "site-0001"u8.ToArray();
        var topic = "sensors"u8.ToArray();
        var lane = "bulk"u8.ToArray();
        // The first three passes warm the JIT up and are not reported. "1 direct": the forwarder's provenance header
        // through its native path (Appliance.Forwarder.Drain.DirectProducer, one rd_kafka_produceva call).
        foreach (var (headers, direct, report) in new[] { (0, false, false), (6, false, false), (1, true, false), (0, false, true), (1, false, true), (3, false, true), (6, false, true), (1, true, true) })
        {
            var config = KafkaTestHelpers.ProducerConfig(cluster.BootstrapServers);
            config.LingerMs = 5;
            config.BatchSize = 1_000_000;
            config.QueueBufferingMaxMessages = 2_000_000;
            config.DeliveryReportFields = "none";
            // As the forwarder's transactional producer: no per-record delivery reports back into .NET.
            config.EnableDeliveryReports = false;
            using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
            using var native = direct ? DirectProducer.TryCreate(producer!) ?? throw new InvalidOperationException("the direct produce path is not available") : null;
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var sw = Stopwatch.StartNew();
            for (var i = 0; i < records; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (native is not null)
                {
                    if (native.Produce("t", record, site, topic, lane) is var code and not ErrorCode.NoError)
                    {
                        throw new KafkaException(new Error(code));
                    }

                    continue;
                }

                Headers? h = null;
                if (headers > 0)
                {
                    h = [];
                    for (var j = 0; j < headers; j++)
                    {
                        h.Add(names[j], headerValue);
                    }
                }

                while (true)
                {
                    try
                    {
                        producer.Produce(new TopicPartition("t", i & 3), new Message<byte[], byte[]> { Key = key, Value = value, Headers = h });
                        break;
                    }
                    catch (ProduceException<byte[], byte[]> e) when (e.Error.Code == ErrorCode.Local_QueueFull)
                    {
                        producer.Poll(TimeSpan.FromMilliseconds(5));
                    }
                }
            }

            if (producer.Flush(TimeSpan.FromMinutes(2)) > 0)
            {
                throw new InvalidOperationException("the mock did not acknowledge every record");
            }

            sw.Stop();
            cpu = Process.GetCurrentProcess().TotalProcessorTime - cpu;
            if (report)
            {
                Console.WriteLine($"| {malloc} | {headers}{(direct ? " direct" : "")} | {records / sw.Elapsed.TotalSeconds:N0} | {cpu.TotalMilliseconds * 1000 / records:F2} |");
            }
        }

        return 0;
    }
}
