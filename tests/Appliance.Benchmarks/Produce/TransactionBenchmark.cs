using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using Appliance.Core.Records;
using Appliance.Forwarder.Drain;
using Appliance.Forwarder.Options;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Benchmarks.Produce;

/// <summary>
/// What committing every N records costs the drain's kind of producer. The forwarder's drain produces a batch in a
/// transaction and commits it before it produces the next (exactly once: the checkpoint goes in the same
/// transaction), so at every commit librdkafka's send pipeline runs empty: the commit first waits until every
/// record still queued was sent and acknowledged. librdkafka sends one partition per ProduceRequest, with at most
/// five requests in flight per broker connection for an idempotent producer, so that wait grows with the partitions
/// a broker leads. This benchmark measures it alone, without the ingest, on an in-process mock cluster: 100 B keyed
/// records with the forwarder's provenance header through its direct produce path and the drain's producer settings
/// (<see cref="KafkaSettings.CentralProducer"/>, without compression), once with an idempotent producer
/// that never stops (the bridge's pipeline: one flush at the end) and once per transaction size, for each number of
/// brokers and partitions. Per transaction size it prints the time spent producing, waiting for the queued records
/// and ending the transaction, once waiting with librdkafka's flush (as <c>CommitTransaction</c> does by itself) and
/// once as the drain waits (<see cref="DrainService.AwaitQueueSent"/>): librdkafka's flush looks at the queue only
/// every 10 ms when no delivery report wakes it, and this producer has none.
/// </summary>
internal sealed class TransactionBenchmark : IBenchmark
{
    public string Name => "transactions";

    public string Description => "cost of a commit every N records for the drain's producer (direct path, provenance header) against one that never stops, by brokers and partitions, waiting for the queue with librdkafka's flush or as the drain does [--records 600000] [--brokers 1,3] [--partitions 4,35] [--per-transaction 4000,20000,80000]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var records = BenchmarkArgs.Int(args, "--records", 600_000);
        var brokerCounts = BenchmarkArgs.Ints(args, "--brokers", [1, 3]);
        var partitionCounts = BenchmarkArgs.Ints(args, "--partitions", [4, 35]);
        var sizes = BenchmarkArgs.Ints(args, "--per-transaction", [4_000, 20_000, 80_000]);
        Console.WriteLine($"{records} records of 100 B with the provenance header, keyed over the partitions; the rate is from the first record produced to the last one acknowledged (committed)");
        Console.WriteLine("| brokers | partitions | records per transaction | waiting with | records/s | producing s | waiting for the queue s | ending the transactions s | wait per transaction ms |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        var first = true;
        foreach (var brokers in brokerCounts)
        {
            foreach (var partitions in partitionCounts)
            {
                using var cluster = new MockKafkaCluster(brokers);
                var topic = KafkaTestHelpers.UniqueName("txn-bench");
                cluster.CreateTopic(topic, partitions);
                if (first)
                {
                    // Not reported: the JIT's first pass through both paths.
                    Run(cluster, topic, records, perTransaction: 0, drainWait: false, cancellationToken);
                    Run(cluster, topic, records, sizes[0], drainWait: true, cancellationToken);
                    first = false;
                }

                foreach (var (perTransaction, drainWait) in sizes.SelectMany(n => new[] { (n, false), (n, true) }).Prepend((0, false)))
                {
                    var r = Run(cluster, topic, records, perTransaction, drainWait, cancellationToken);
                    var transactions = perTransaction == 0 ? 0 : (records + perTransaction - 1) / perTransaction;
                    var size = perTransaction == 0 ? "none (idempotent)" : perTransaction.ToString("N0", CultureInfo.InvariantCulture);
                    var how = perTransaction == 0 ? "one flush at the end" : drainWait ? "1 ms steps (the drain)" : "librdkafka's flush";
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                        $"| {brokers} | {partitions} | {size} | {how} | {records / r.Total.TotalSeconds:N0} | {r.Producing.TotalSeconds:F2} | {r.Flushing.TotalSeconds:F2} | {(perTransaction == 0 ? "-" : r.Ending.TotalSeconds.ToString("F2", CultureInfo.InvariantCulture))} | {(transactions == 0 ? "-" : (r.Flushing.TotalMilliseconds / transactions).ToString("F1", CultureInfo.InvariantCulture))} |"));
                }
            }
        }

        return Task.FromResult(0);
    }

    private readonly record struct Times(TimeSpan Total, TimeSpan Producing, TimeSpan Flushing, TimeSpan Ending);

    /// <summary>
    /// Produces <paramref name="records"/> records, committing every <paramref name="perTransaction"/> (0: not
    /// transactional); before each commit it waits for the queue with librdkafka's flush, or as the drain does.
    /// </summary>
    private static Times Run(MockKafkaCluster cluster, string topic, int records, int perTransaction, bool drainWait, CancellationToken ct)
    {
        // The drain's own producer settings (exactly once, no delivery reports), without compression; the producer
        // that never stops is the same without a transactional id.
        var central = new CentralOptions { BootstrapServers = cluster.BootstrapServers, Compression = UplinkCompression.None, TransactionalId = KafkaTestHelpers.UniqueName("txn-bench") };
        var config = KafkaSettings.CentralProducer(central, "bench");
        if (perTransaction == 0)
        {
            config.TransactionalId = null;
        }

        var timeout = TimeSpan.FromMinutes(1);
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(config).Build();
        using var direct = DirectProducer.TryCreate(producer) ?? throw new InvalidOperationException("the direct produce path is not available");
        if (perTransaction > 0)
        {
            producer.InitTransactions(timeout);
        }

        var key = new byte[8];
        var record = new EdgeRecord(new SourcePosition("sensors-0000000001", 3, 1_795_581_716), 1_795_581_716_925, key, new byte[100]);
        var site = "bench-0123456789ab"u8.ToArray();
        var sourceTopic = "sensors-0000000001"u8.ToArray();
        var lane = "bulk"u8.ToArray();
        var producing = TimeSpan.Zero;
        var flushing = TimeSpan.Zero;
        var ending = TimeSpan.Zero;
        var total = Stopwatch.StartNew();
        var step = Stopwatch.StartNew();
        for (var i = 0; i < records; i++)
        {
            ct.ThrowIfCancellationRequested();
            if (perTransaction > 0 && i % perTransaction == 0)
            {
                producer.BeginTransaction();
                step.Restart();
            }

            // librdkafka copies the key, so one array serves every record.
            BinaryPrimitives.WriteInt64BigEndian(key, i);
            if (direct.Produce(topic, record, site, sourceTopic, lane) is var code and not ErrorCode.NoError)
            {
                throw new KafkaException(new Error(code));
            }

            if (perTransaction > 0 && ((i + 1) % perTransaction == 0 || i + 1 == records))
            {
                producing += step.Elapsed;
                step.Restart();
                if (drainWait)
                {
                    DrainService.AwaitQueueSent(producer, timeout);
                }
                else
                {
                    producer.Flush(timeout);
                }

                flushing += step.Elapsed;
                step.Restart();
                producer.CommitTransaction(timeout);
                ending += step.Elapsed;
            }
        }

        if (perTransaction == 0)
        {
            producing = step.Elapsed;
            step.Restart();
            if (producer.Flush(timeout) > 0)
            {
                throw new InvalidOperationException("the mock did not acknowledge every record");
            }

            flushing = step.Elapsed;
        }

        return new Times(total.Elapsed, producing, flushing, ending);
    }
}
