using System.Diagnostics;
using Appliance.Core.Records;

namespace Appliance.Benchmarks.Buffer;

/// <summary>
/// What one lookup of a source partition costs in the dictionaries the buffer and the ingest consult for every record
/// (the lane's next offsets and counts, the ingest's next offsets), with the default equality of the key and with
/// <see cref="SourcePartitionComparer"/>, which hashes a topic name once per run of one partition. Keys come as the
/// ingest sees them: runs of records of one partition (one fetch response), the topic one string instance.
/// </summary>
internal sealed class PartitionLookupBenchmark : IBenchmark
{
    public string Name => "partition-lookups";

    public string Description => "ns per lookup of a source partition, default key equality vs SourcePartitionComparer, in runs of one partition [--topic-length 40] [--partitions 35] [--run 500] [--lookups 20000000]";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var topicLength = BenchmarkArgs.Int(args, "--topic-length", 40);
        var partitions = BenchmarkArgs.Int(args, "--partitions", 35);
        var run = BenchmarkArgs.Int(args, "--run", 500);
        var lookups = BenchmarkArgs.Int(args, "--lookups", 20_000_000);
        var topic = new string('t', topicLength);
        var byDefault = new Dictionary<SourcePartition, long>();
        var byComparer = new Dictionary<SourcePartition, long>(new SourcePartitionComparer());
        for (var p = 0; p < partitions; p++)
        {
            byDefault[new SourcePartition(topic, p)] = p;
            byComparer[new SourcePartition(topic, p)] = p;
        }

        Console.WriteLine($"{lookups} lookups in a dictionary of {partitions} partitions of one {topicLength}-character topic, in runs of {run} per partition; best of 5 rounds");
        Console.WriteLine("| key equality | ns per lookup |");
        Console.WriteLine("|---|---|");
        foreach (var (name, d) in new[] { ("default (record struct)", byDefault), ("SourcePartitionComparer", byComparer) })
        {
            var best = double.MaxValue;
            for (var round = 0; round < 5; round++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var sw = Stopwatch.StartNew();
                long sum = 0;
                for (var i = 0; i < lookups; i++)
                {
                    sum += d[new SourcePartition(topic, i / run % partitions)];
                }

                sw.Stop();
                // The sum is used so that the loop cannot be dropped; it is the same for both.
                GC.KeepAlive(sum);
                best = Math.Min(best, sw.Elapsed.TotalNanoseconds / lookups);
            }

            Console.WriteLine($"| {name} | {best:F1} |");
        }

        return Task.FromResult(0);
    }
}
