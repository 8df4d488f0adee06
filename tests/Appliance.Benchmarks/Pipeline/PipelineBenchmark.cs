using System.Diagnostics;
using System.Globalization;
using System.Text;
using Appliance.Core.Pipeline;
using Appliance.Core.Records;

namespace Appliance.Benchmarks.Pipeline;

/// <summary>
/// Per-record pipeline throughput on one thread: a filter+project+downsample route against a route with no
/// steps, on ~200-byte JSON records (200 keys, event time in the JSON advancing ~1 ms per record, 10 s windows:
/// about 50 records per aggregate). Options: --breakdown also measures filter and filter+project alone.
/// Options: --records N (default 300000), --runs R (default 3; the median is reported).
/// </summary>
internal sealed class PipelineBenchmark : IBenchmark
{
    public string Name => "pipeline";

    public string Description => "pipeline throughput: filter+project+downsample route vs no steps, 200 B JSON, one thread";

    public Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var count = BenchmarkArgs.Int(args, "--records", 300_000);
        var runs = BenchmarkArgs.Int(args, "--runs", 3);
        var records = Generate(count);
        var avgBytes = records.Average(r => r.Value!.Length);
        Console.WriteLine($"records: {count:N0}, average value size {avgBytes:F0} B, runs: {runs} (median reported)");

        var baseline = Measure("no steps", Route(), records, runs, cancellationToken);
        if (args.Contains("--breakdown"))
        {
            Measure("filter", Route(Filter), records, runs, cancellationToken);
            Measure("filter+project", Route(Filter, Project), records, runs, cancellationToken);
        }

        var full = Measure("filter+project+downsample", Route(Filter, Project, Downsample), records, runs, cancellationToken);
        Console.WriteLine($"ratio full/no-steps: {full / baseline:F3} (target for the full route: >= 200,000 records/s)");
        return Task.FromResult(0);
    }

    private static StepOptions Filter => new() { Type = "filter", Expression = "value.temp > -40 and value.status != \"error\"" };

    private static StepOptions Project => new() { Type = "project", Keep = ["value.ts", "value.temp", "value.humidity"] };

    private static StepOptions Downsample => new()
    {
        Type = "downsample",
        Window = TimeSpan.FromSeconds(10),
        TimestampField = "value.ts",
        Fields = ["value.temp", "value.humidity"],
    };

    private static PipelineOptions Route(params StepOptions[] steps) => new()
    {
        SiteId = "bench",
        Routes =
        [
            new RouteOptions
            {
                Name = "bench",
                Sources = ["sensors.bench"],
                Lane = "normal",
                DestinationTemplate = "{site}.{topic}",
                Steps = [.. steps],
            },
        ],
    };

    private static EdgeRecord[] Generate(int count)
    {
        var rnd = new Random(1);
        var records = new EdgeRecord[count];
        var ts = 1_700_000_000_000L;
        for (var i = 0; i < count; i++)
        {
            ts += rnd.Next(0, 3);
            var device = rnd.Next(200);
            var json = string.Create(
                CultureInfo.InvariantCulture,
                $$"""{"ts":{{ts}},"device":"dev-{{device:D4}}","temp":{{rnd.Next(-100, 400) / 10.0}},"humidity":{{rnd.Next(0, 1000) / 10.0}},"pressure":{{rnd.Next(9500, 10500) / 10.0}},"status":"{{(rnd.Next(50) == 0 ? "error" : "ok")}}","seq":{{i}},"firmware":"2.4.1","note":"{{new string('n', 58)}}"}""");
            records[i] = new EdgeRecord(
                new SourcePosition("sensors.bench", 0, i),
                ts,
                Encoding.UTF8.GetBytes($"dev-{device:D4}"),
                Encoding.UTF8.GetBytes(json));
        }

        return records;
    }

    private static double Measure(string label, PipelineOptions options, EdgeRecord[] records, int runs, CancellationToken cancellationToken)
    {
        var rates = new List<double>();
        var outputs = new List<PipelineOutput>(64);
        long emitted = 0;
        long allocated = 0;

        // One untimed pass warms up the JIT (tiered compilation) on the same code paths. Each timed run repeats
        // whole passes (a fresh pipeline each, so event time starts over) for at least half a second, so the fast
        // no-steps route is not timed over a few milliseconds only.
        for (var run = -1; run < runs; run++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long processed = 0;
            var elapsed = TimeSpan.Zero;
            emitted = 0;
            GC.Collect();
            var allocBefore = GC.GetAllocatedBytesForCurrentThread();
            do
            {
                var pipeline = RecordPipeline.Create(options, ["normal"]);
                var sw = Stopwatch.StartNew();
                foreach (var r in records)
                {
                    pipeline.Process(r, outputs);
                    if (outputs.Count > 32)
                    {
                        emitted += outputs.Count;
                        outputs.Clear();
                    }
                }

                sw.Stop();
                elapsed += sw.Elapsed;
                processed += records.Length;
                emitted += outputs.Count;
                outputs.Clear();
            }
            while (run >= 0 && elapsed < TimeSpan.FromMilliseconds(500));

            allocated = (GC.GetAllocatedBytesForCurrentThread() - allocBefore) / processed;
            if (run >= 0)
            {
                rates.Add(processed / elapsed.TotalSeconds);
                emitted /= processed / records.Length;
            }
        }

        rates.Sort();
        var median = rates[rates.Count / 2];
        Console.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"{label,-28} {median,12:N0} records/s  (runs: {string.Join(", ", rates.Select(x => x.ToString("N0", CultureInfo.InvariantCulture)))}); outputs per pass {emitted:N0}; allocated {allocated} B/record"));
        return median;
    }
}
