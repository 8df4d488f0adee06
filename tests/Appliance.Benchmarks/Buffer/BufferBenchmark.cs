using System.Diagnostics;
using System.Globalization;
using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.TestKit;

namespace Appliance.Benchmarks.Buffer;

/// <summary>
/// Durable buffer figures, measured side by side in one run on one disk: group-committed append against raw
/// sequential writes with the same fsync cadence, commit latency at a paced ingest, recovery of a 1 GB lane, and
/// RSS while 2 GB are buffered.
/// </summary>
internal sealed class BufferBenchmark : IBenchmark
{
    public string Name => "buffer";

    public string Description => "durable append vs raw fsync baseline, commit latency at 50 MB/s, 1 GB recovery, RSS with 2 GB buffered [--dir D] [--runs N] [--quick] [--only append|latency|recovery|rss] [--page-bits N] [--memory-bits N]";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = BenchmarkArgs.Value(args, "--dir") ?? Path.Combine(Path.GetTempPath(), "appliance-bench-buffer");
        var runs = BenchmarkArgs.Int(args, "--runs", 3);
        var quick = args.Contains("--quick");
        // --only append|latency|recovery|rss: run one section.
        var only = BenchmarkArgs.Value(args, "--only");
        s_pageBits = BenchmarkArgs.Value(args, "--page-bits") is { } pb ? int.Parse(pb, CultureInfo.InvariantCulture) : null;
        s_memoryBits = BenchmarkArgs.Value(args, "--memory-bits") is { } mb ? int.Parse(mb, CultureInfo.InvariantCulture) : null;
        var sample = Options(root, 1, 1);
        Console.WriteLine($"# lane log: page 2^{sample.PageSizeBits} B, memory 2^{sample.MemorySizeBits} B; group commit {sample.CommitIntervalMs} ms or {sample.CommitBytes} B");
        Directory.CreateDirectory(root);
        Console.WriteLine($"# data dir {root} ({DriveInfo.GetDrives().FirstOrDefault(d => root.StartsWith(d.Name, StringComparison.Ordinal))?.DriveFormat ?? "?"}), {runs} runs each, medians with min..max");
        var sections = new (string Name, Func<Task> Run)[]
        {
            ("append", () => AppendSectionAsync(root, runs, quick, cancellationToken)),
            ("latency", () => LatencySectionAsync(root, runs, quick, cancellationToken)),
            ("recovery", () => RecoverySectionAsync(root, runs, quick)),
            ("rss", () => RssSectionAsync(root, quick)),
        };
        if (only is not null && sections.All(x => x.Name != only))
        {
            Console.Error.WriteLine($"--only: unknown section '{only}' (append, latency, recovery, rss)");
            return 2;
        }

        foreach (var (name, run) in sections)
        {
            if (only is null || only == name)
            {
                Console.WriteLine();
                await run();
            }
        }

        Directory.Delete(root, recursive: true);
        return 0;
    }

    private static async Task AppendSectionAsync(string root, int runs, bool quick, CancellationToken cancellationToken)
    {
        var appendBytes = quick ? 128L << 20 : 1L << 30;
        Console.WriteLine("## Durable append (group commit: 5 ms or 1 MiB) vs raw sequential write + fsync at the same cadence");
        Console.WriteLine("Ratios: 'on disk' compares the buffer's log bytes per second with raw writes of the same bytes (i.e. the time to make the same bytes durable); 'payload' compares record payload per second with that raw rate (the buffer's format overhead counts against it).");
        Console.WriteLine("| record | buffer rec/s | buffer payload MB/s | buffer on-disk MB/s | commits | raw MB/s (same bytes, same number of fsyncs) | ratio on disk | ratio payload | FasterLog alone rec/s (same entries, commit every 1 MiB) | ratio buffer/FasterLog |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|---|");
        // Warm-up (not reported) for a few seconds: tiered compilation promotes the append path (and FASTER's
        // enqueue loop) to optimized code only after it ran for a while; a service runs optimized code within seconds.
        var warmup = Stopwatch.StartNew();
        while (warmup.Elapsed < TimeSpan.FromSeconds(quick ? 3 : 5))
        {
            await DurableAppendAsync(Fresh(root, "warmup"), 100, 16L << 20);
            await DurableAppendAsync(Fresh(root, "warmup"), 1024, 16L << 20);
            await BareFasterLogAsync(Fresh(root, "warmup"), 100, 16L << 20);
        }

        foreach (var size in new[] { 100, 1024 })
        {
            var bufferRates = new List<double>();
            var diskRates = new List<double>();
            var rawRates = new List<double>();
            var recRates = new List<double>();
            var bareRates = new List<double>();
            long commits = 0;
            for (var r = 0; r < runs; r++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (recPerSec, mbPerSec, c, totalBytes, seconds) = await DurableAppendAsync(Fresh(root, "append"), size, appendBytes);
                // Baseline right after, same disk: same bytes, same number of fsyncs.
                var raw = RawSequentialWrite(Path.Combine(root, "raw.bin"), totalBytes, (int)Math.Max(4096, totalBytes / Math.Max(1, c)));
                bareRates.Add(await BareFasterLogAsync(Fresh(root, "bare"), size, totalBytes));
                bufferRates.Add(mbPerSec);
                diskRates.Add(totalBytes / 1e6 / seconds);
                recRates.Add(recPerSec);
                rawRates.Add(raw);
                commits = c;
            }

            Console.WriteLine($"| {size} B | {Fmt(recRates, "N0")} | {Fmt(bufferRates, "F0")} | {Fmt(diskRates, "F0")} | {commits} | {Fmt(rawRates, "F0")} | {Stats.Median(diskRates) / Stats.Median(rawRates):F2}x | {Stats.Median(bufferRates) / Stats.Median(rawRates):F2}x | {Fmt(bareRates, "N0")} | {Stats.Median(recRates) / Stats.Median(bareRates):F2}x |");
        }
    }

    private static async Task LatencySectionAsync(string root, int runs, bool quick, CancellationToken cancellationToken)
    {
        Console.WriteLine("## Commit latency at a steady paced ingest (1 KiB records, batches every 1 ms; latency = append of a batch until WhenDurableAsync returns)");
        Console.WriteLine("FasterLog alone: the same entries enqueued and committed (CommitStrongly + WaitForCommitAsync) at the same pace, run alternately with the buffer: the floor on this disk.");
        Console.WriteLine("| path | target | achieved MB/s | p50 ms | p99 ms | max ms |");
        Console.WriteLine("|---|---|---|---|---|---|");
        const int mbps = 50;
        var duration = TimeSpan.FromSeconds(quick ? 3 : 6);
        var results = new Dictionary<string, List<(double P50, double P99, double Max, double Mbps)>> { ["buffer"] = [], ["FasterLog alone"] = [] };
        for (var r = 0; r < runs; r++)
        {
            results["buffer"].Add(await PacedLatencyAsync(Fresh(root, "paced"), mbps, duration, cancellationToken));
            results["FasterLog alone"].Add(await PacedBareLatencyAsync(Fresh(root, "paced-bare"), mbps, duration, cancellationToken));
        }

        foreach (var (path, list) in results)
        {
            Console.WriteLine($"| {path} | {mbps} MB/s | {Fmt([.. list.Select(x => x.Mbps)], "F1")} | {Fmt([.. list.Select(x => x.P50)], "F2")} | {Fmt([.. list.Select(x => x.P99)], "F2")} | {Fmt([.. list.Select(x => x.Max)], "F1")} |");
        }
    }

    private static async Task RecoverySectionAsync(string root, int runs, bool quick)
    {
        var laneBytes = quick ? 256L << 20 : 1L << 30;
        Console.WriteLine($"## Recovery of a lane holding {laneBytes >> 20} MiB (1 KiB records; page cache dropped before each open when permitted)");
        var dir = Fresh(root, "recover");
        await FillAsync(dir, laneBytes, 1024, lanes: 1);
        var opens = new List<double>();
        for (var r = 0; r < runs; r++)
        {
            DropCaches();
            var sw = Stopwatch.StartNew();
            await using (var b = DurableBuffer.Open(Options(dir, 1, laneBytes)))
            {
                sw.Stop();
                if (b.Lanes[0].BufferedBytes < laneBytes * 9 / 10)
                {
                    throw new InvalidOperationException($"recovered only {b.Lanes[0].BufferedBytes} bytes");
                }
            }

            opens.Add(sw.Elapsed.TotalMilliseconds);
        }

        Console.WriteLine($"open + recover: {Fmt(opens, "F0")} ms (median, min..max)");
    }

    private static async Task RssSectionAsync(string root, bool quick)
    {
        var big = quick ? 512L << 20 : 2L << 30;
        Console.WriteLine($"## Process RSS while buffering (1 KiB records, 2 lanes)");
        Console.WriteLine("| buffered | RSS MiB | managed heap MiB |");
        Console.WriteLine("|---|---|---|");
        var rssDir = Fresh(root, "rss");
        await using var b = DurableBuffer.Open(Options(rssDir, 2, big));
        var payload = new byte[1024];
        long offset = 0;
        foreach (var target in new[] { big / 8, big / 2, big })
        {
            while (b.TotalBufferedBytes < target)
            {
                for (var i = 0; i < 1000; i++, offset++)
                {
                    await b.Lanes[(int)(offset & 1)].AppendAsync(new EdgeRecord(new SourcePosition("t", 0, offset), offset, null, payload));
                }
            }

            await b.WhenDurableAsync();
            GC.Collect();
            GC.WaitForPendingFinalizers();
            Console.WriteLine($"| {b.TotalBufferedBytes >> 20} MiB | {Rss() >> 20} | {GC.GetTotalMemory(false) >> 20} |");
        }
    }

    private static async Task<(double RecPerSec, double MbPerSec, long Commits, long Bytes, double Seconds)> DurableAppendAsync(string dir, int size, long totalBytes)
    {
        var options = Options(dir, 1, totalBytes * 2);
        await using var b = DurableBuffer.Open(options);
        var lane = b.Lanes[0];
        var payload = new byte[size];
        Random.Shared.NextBytes(payload);
        var count = totalBytes / size;
        // Records are built up front (as a consumer's poll batch would be) and appended 500 at a time.
        const int batchSize = 500;
        var batch = new List<EdgeRecord>(batchSize);
        var results = new List<AppendResult>(batchSize);
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < count;)
        {
            batch.Clear();
            results.Clear();
            for (var j = 0; j < batchSize && i < count; j++, i++)
            {
                batch.Add(new EdgeRecord(new SourcePosition("t", 0, i), i, null, payload));
            }

            await lane.AppendBatchAsync(batch, results);
            if (results.Count != batch.Count || results.Any(r => r.Status != AppendStatus.Accepted))
            {
                throw new InvalidOperationException($"append near {i} was not accepted");
            }
        }

        await b.WhenDurableAsync();
        sw.Stop();
        var logBytes = lane.TailAddress - 64;
        return (count / sw.Elapsed.TotalSeconds, count * (double)size / 1e6 / sw.Elapsed.TotalSeconds, Math.Max(1, lane.CommitsCompleted), logBytes, sw.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The ceiling for the append path: FasterLog alone with the buffer's settings, enqueueing ready-made entries of
    /// the size the buffer writes for such a record (no records, locks, positions or CRC), committing every 1 MiB.
    /// Fills the same log bytes as <see cref="DurableAppendAsync"/>. Returns entries/s.
    /// </summary>
    private static async Task<double> BareFasterLogAsync(string dir, int size, long logBytes)
    {
        var (device, log, entry) = OpenBareLog(dir, size);
        using var d = device;
        using var l = log;
        var o = Options(dir, 1, 1);
        var count = logBytes / BufferLane.EntrySize(entry.Length);
        long sinceCommit = 0;
        var sw = Stopwatch.StartNew();
        for (long i = 0; i < count; i++)
        {
            log.Enqueue(entry);
            sinceCommit += entry.Length;
            if (sinceCommit >= o.CommitBytes)
            {
                log.Commit();
                sinceCommit = 0;
            }
        }

        await log.CommitAsync();
        sw.Stop();
        return count / sw.Elapsed.TotalSeconds;
    }

    /// <summary>Writes <paramref name="total"/> bytes sequentially in chunks of <paramref name="chunk"/> and fsyncs after each chunk (dd conv=fsync style, per chunk). Returns MB/s.</summary>
    private static double RawSequentialWrite(string path, long total, int chunk)
    {
        var buf = new byte[chunk];
        Random.Shared.NextBytes(buf);
        var sw = Stopwatch.StartNew();
        using (var fs = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1, FileOptions.None))
        {
            for (long written = 0; written < total; written += chunk)
            {
                fs.Write(buf, 0, (int)Math.Min(chunk, total - written));
                fs.Flush(flushToDisk: true);
            }
        }

        sw.Stop();
        File.Delete(path);
        return total / 1e6 / sw.Elapsed.TotalSeconds;
    }

    private static async Task<(double P50, double P99, double Max, double AchievedMbps)> PacedLatencyAsync(string dir, int mbps, TimeSpan duration, CancellationToken ct)
    {
        await using var b = DurableBuffer.Open(Options(dir, 1, 4L << 30));
        var lane = b.Lanes[0];
        var payload = new byte[1024];
        long offset = 0;
        return await PacedAsync(mbps, duration, async n =>
        {
            for (var i = 0; i < n; i++, offset++)
            {
                await lane.AppendAsync(new EdgeRecord(new SourcePosition("t", 0, offset), offset, null, payload), ct);
            }

            await b.WhenDurableAsync(ct);
        }, ct);
    }

    /// <summary>
    /// <see cref="PacedLatencyAsync"/> with FasterLog alone (the buffer's settings and entry size, no buffer): each
    /// millisecond's entries are enqueued, then committed and awaited.
    /// </summary>
    private static async Task<(double P50, double P99, double Max, double AchievedMbps)> PacedBareLatencyAsync(string dir, int mbps, TimeSpan duration, CancellationToken ct)
    {
        var (device, log, entry) = OpenBareLog(dir, 1024);
        using var d = device;
        using var l = log;
        return await PacedAsync(mbps, duration, async n =>
        {
            for (var i = 0; i < n; i++)
            {
                log.Enqueue(entry);
            }

            log.CommitStrongly(out var tail, out var commitNum, spinWait: false);
            await log.WaitForCommitAsync(tail, commitNum, ct);
        }, ct);
    }

    /// <summary>
    /// Every millisecond, appends the 1 KiB records due for <paramref name="mbps"/> (catching up if the last round ran
    /// long, as a consumer would) and waits until they are durable; returns the latency percentiles of those rounds.
    /// </summary>
    private static async Task<(double P50, double P99, double Max, double AchievedMbps)> PacedAsync(int mbps, TimeSpan duration, Func<int, ValueTask> appendAndCommit, CancellationToken ct)
    {
        var perMs = mbps * 1_000_000 / 1024 / 1000;
        var latencies = new List<double>();
        var sw = Stopwatch.StartNew();
        long count = 0;
        long tick = 0;
        while (sw.Elapsed < duration)
        {
            ct.ThrowIfCancellationRequested();
            var wait = TimeSpan.FromMilliseconds(tick) - sw.Elapsed;
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, ct);
            }

            var dueTicks = Math.Max(1, (long)sw.Elapsed.TotalMilliseconds - tick + 1);
            tick += dueTicks;
            var n = (int)(perMs * dueTicks);
            var start = Stopwatch.GetTimestamp();
            await appendAndCommit(n);
            latencies.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            count += n;
        }

        latencies.Sort();
        return (Pct(latencies, 0.50), Pct(latencies, 0.99), latencies[^1], count * 1024.0 / 1e6 / sw.Elapsed.TotalSeconds);
    }

    /// <summary>A FasterLog with the buffer's settings and an entry of the size the buffer writes for a record of <paramref name="payloadSize"/> bytes.</summary>
    private static (FASTER.core.IDevice Device, FASTER.core.FasterLog Log, byte[] Entry) OpenBareLog(string dir, int payloadSize)
    {
        var encoded = new System.Buffers.ArrayBufferWriter<byte>();
        EntryCodec.WriteRecord(encoded, new EdgeRecord(new SourcePosition("t", 0, 1), 1, null, new byte[payloadSize]), 1);
        var o = Options(dir, 1, 1);
        Directory.CreateDirectory(dir);
        var device = new SegmentFileDevice(Path.Combine(dir, "log"), SparePool.For(o));
        var log = new FASTER.core.FasterLog(new FASTER.core.FasterLogSettings
        {
            LogDevice = device,
            PageSizeBits = o.PageSizeBits,
            MemorySizeBits = o.MemorySizeBits,
            SegmentSizeBits = o.SegmentSizeBits,
            LogChecksum = FASTER.core.LogChecksumType.PerEntry,
            LogCommitDir = Path.Combine(dir, "commits"),
        });
        return (device, log, encoded.WrittenSpan.ToArray());
    }

    private static async Task FillAsync(string dir, long bytes, int size, int lanes)
    {
        await using var b = DurableBuffer.Open(Options(dir, lanes, bytes));
        var payload = new byte[size];
        long i = 0;
        while (b.TotalBufferedBytes < bytes - (4 << 20))
        {
            await b.Lanes[(int)(i % lanes)].AppendAsync(new EdgeRecord(new SourcePosition("t", 0, i), i, null, payload));
            i++;
        }

        await b.WhenDurableAsync();
    }

    // Page and memory size of every lane (--page-bits, --memory-bits; default: the product's defaults).
    private static int? s_pageBits;
    private static int? s_memoryBits;

    private static BufferOptions Options(string dir, int lanes, long bytesPerLane) => new()
    {
        PageSizeBits = s_pageBits ?? new BufferOptions().PageSizeBits,
        MemorySizeBits = s_memoryBits ?? new BufferOptions().MemorySizeBits,
        DataDirectory = dir,
        Lanes = Enumerable.Range(0, lanes).Select(i => new LaneOptions { Name = $"lane{i}", QuotaBytes = bytesPerLane + (64L << 20) }).ToList(),
        TotalBudgetBytes = lanes * (bytesPerLane + (64L << 20)),
    };

    private static string Fresh(string root, string name)
    {
        var dir = Path.Combine(root, name);
        if (Directory.Exists(dir))
        {
            Directory.Delete(dir, recursive: true);
        }

        return dir;
    }

    private static void DropCaches()
    {
        try
        {
            File.WriteAllText("/proc/sys/vm/drop_caches", "3");
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            // Not root: reopen reads from the page cache; the figure is then a lower bound.
        }
    }

    private static long Rss()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        return Environment.WorkingSet;
    }

    private static double Pct(List<double> sorted, double p) => sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];

    private static string Fmt(List<double> v, string f) => $"{Stats.Median(v).ToString(f, CultureInfo.InvariantCulture)} ({v.Min().ToString(f, CultureInfo.InvariantCulture)}..{v.Max().ToString(f, CultureInfo.InvariantCulture)})";
}
