using System.Diagnostics;
using Appliance.Chaos.Faults;
using Appliance.Chaos.Load;
using Appliance.Chaos.Verification;
using Appliance.TestKit;

namespace Appliance.Chaos.Running;

/// <summary>Options of a run.</summary>
public sealed class RunOptions
{
    /// <summary>Results folder (report.md, report.json, one folder per scenario).</summary>
    public required string ResultsDirectory { get; init; }

    /// <summary>Seed of all random choices.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Uid the forwarder runs as (null = as this process).</summary>
    public int? ForwarderUid { get; init; }

    /// <summary>Path of appliance-forwarder.dll.</summary>
    public required string ForwarderDll { get; init; }

    /// <summary>Treat a skipped scenario (missing nft, loop devices) as a failure.</summary>
    public bool RequireAll { get; init; }
}

/// <summary>Runs scenarios one after the other, each in a fresh environment, and verifies each one.</summary>
public sealed class ScenarioRunner
{
    private readonly RunOptions _options;
    private readonly TimeProvider _time;
    private readonly TextWriter _out;

    /// <summary>Creates a runner writing progress to <paramref name="output"/>.</summary>
    public ScenarioRunner(RunOptions options, TimeProvider time, TextWriter output)
    {
        _options = options;
        _time = time;
        _out = output;
    }

    /// <summary>Runs <paramref name="scenarios"/>; results come back even when one fails or errors.</summary>
    public async Task<IReadOnlyList<ScenarioResult>> RunAsync(IReadOnlyList<Scenario> scenarios, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(scenarios);
        var results = new List<ScenarioResult>();
        for (var i = 0; i < scenarios.Count && !cancellationToken.IsCancellationRequested; i++)
        {
            var s = scenarios[i];
            Log($"== scenario {i + 1}/{scenarios.Count}: {s.Name}: {s.Description}");
            var r = await RunOneAsync(s, _options.Seed + i, cancellationToken);
            Log($"== {s.Name}: {r.Status.ToUpperInvariant()}{(r.Reason is null ? "" : $" ({r.Reason})")} in {r.Seconds:F0}s"
                + (r.Verification is { } v ? $": produced {v.Produced}, delivered {v.Delivered}, lost {v.Lost}, duplicated {v.Duplicated}{(v.EdgeDuplicates > 0 ? $" (+{v.EdgeDuplicates} stored twice by the edge)" : "")}, redelivered {v.Redelivered}, out-of-order {v.OutOfOrder}, dropped {v.DroppedByPolicy}/{v.GapMarkerCount} in gaps, p99 {v.LatencyP99Ms} ms, drain {r.DrainSeconds:F1}s" : ""));
            if (r.Verification is { Passed: false } failed)
            {
                foreach (var f in failed.Failures)
                {
                    Log($"   FAIL {f}");
                }
            }

            results.Add(r);
        }

        return results;
    }

    private string? MissingRequirement(Scenario s)
    {
        if (s.Needs.HasFlag(Needs.Nftables) && !NetworkFaults.IsAvailable())
        {
            return "needs root and nftables (apt-get install nftables)";
        }

        if (s.Needs.HasFlag(Needs.LoopDisk) && !LoopDisk.IsAvailable())
        {
            return "needs root, loop devices and mkfs.ext4";
        }

        if (s.Needs.HasFlag(Needs.MockFaults) && (KafkaTestClusters.IsReal(KafkaClusterRole.Edge) || KafkaTestClusters.IsReal(KafkaClusterRole.Central)))
        {
            return "injects broker faults, which only mock clusters support";
        }

        return null;
    }

    private async Task<ScenarioResult> RunOneAsync(Scenario s, int seed, CancellationToken cancellationToken)
    {
        // On the librdkafka mock a transaction cut by a fault stays visible to read_committed readers, including its
        // checkpoint, so an exactly-once forwarder may skip records that central never committed (a false loss;
        // seen in outage-backlog when a blackhole hit CommitTransaction). Where aborts are possible and central is the
        // mock, run the forwarder at-least-once: loss and order stay strict, copies are matched by provenance.
        // Exactly-once under aborts is judged against real clusters only.
        var delivery = s.Delivery == "ExactlyOnce" && s.AbortsPossible && !KafkaTestClusters.IsReal(KafkaClusterRole.Central) ? "AtLeastOnce" : s.Delivery;
        var result = new ScenarioResult { Name = s.Name, Description = s.Description, Status = "error", Delivery = delivery };
        var sw = Stopwatch.StartNew();
        if (MissingRequirement(s) is { } missing)
        {
            result.Status = "skipped";
            result.Reason = missing;
            return result;
        }

        var dir = Path.Combine(_options.ResultsDirectory, s.Name);
        Directory.CreateDirectory(dir);
        result.Directory = dir;
        var site = $"chaos-{s.Name}".ToLowerInvariant();
        if (site.Length > 60)
        {
            site = site[..60];
        }

        var budget = s.BufferBudgetBytes;
        var lanes = new List<LaneSetup>
        {
            new("critical", $"chaos-critical-{seed}", 8, "Block", Math.Max(4L << 20, budget / 4)),
            new("normal", $"chaos-normal-{seed}", 2, "Block", Math.Max(4L << 20, budget / 3)),
            new("bulk", $"chaos-bulk-{seed}", 1, s.BulkPolicy, s.BulkQuotaBytes),
        };
        var settings = new EnvironmentSettings
        {
            Site = site,
            Lanes = lanes,
            Partitions = s.Partitions,
            Delivery = delivery,
            LoopDiskMiB = s.LoopDiskMiB,
            BufferBudgetBytes = budget,
            RunDirectory = dir,
            ForwarderUid = _options.ForwarderUid,
            ForwarderDll = _options.ForwarderDll,
        };

        ChaosEnvironment? env = null;
        try
        {
            env = await ChaosEnvironment.StartAsync(settings, s.Needs.HasFlag(Needs.Nftables), cancellationToken);
            result.Clusters = $"edge={(env.Edge.SupportsFaultInjection ? "mock" : "real")} central={(env.Central.SupportsFaultInjection ? "mock" : "real")}";
            var check = delivery == "AtLeastOnce" ? DuplicateCheck.ProvenanceDedup
                : env.Central.SupportsFaultInjection && s.AbortsPossible ? DuplicateCheck.NotCheckableOnMock
                : DuplicateCheck.Strict;
            var verifier = new DeliveryVerifier(check);
            using var producedLog = new ProducedLog(Path.Combine(dir, "produced.csv"));
            await using var reader = new CentralReader(env.Central.BootstrapServers, env.Central.ClientProperties,
                [.. lanes.Select(l => (env.Destination(l), s.Partitions))], env.GapTopic, 1, verifier, _time);
            var shares = new Dictionary<string, int>(StringComparer.Ordinal) { ["critical"] = 1, ["normal"] = 3, ["bulk"] = 6 };
            using var load = new LoadGenerator(env.Edge.BootstrapServers, env.Edge.ClientProperties,
                [.. lanes.Select(l => new LaneLoad(l.Name, l.EdgeTopic, 50, shares[l.Name], s.RecordBytes))], verifier, producedLog, _time, seed);
            using var loadStop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var background = Task.Run(() => load.RunAsync(s.RecordsPerSecond, 0, TimeSpan.FromHours(4), 0, loadStop.Token), CancellationToken.None);

            // Warm-up: the forwarder is up and records flow end to end before any fault.
            var warm = Stopwatch.StartNew();
            while (reader.Copies == 0)
            {
                if (warm.Elapsed > TimeSpan.FromSeconds(60))
                {
                    throw new TimeoutException($"no record reached central within 60 s of the start; forwarder log: {Path.Combine(dir, "forwarder.log")}");
                }

                await Task.Delay(100, cancellationToken);
            }

            Log($"   records flow end to end after {warm.Elapsed.TotalSeconds:F1}s");
            // Latency figures start here: records produced while the forwarder was still starting say nothing about faults.
            verifier.LatencyFromMs = _time.GetUtcNow().ToUnixTimeMilliseconds();
            var context = new ScenarioContext(env, load, verifier, new Random(seed), _time, Log, cancellationToken);
            try
            {
                await s.Faults(context);
            }
            finally
            {
                await loadStop.CancelAsync();
                try
                {
                    await background;
                }
                catch (OperationCanceledException)
                {
                }

                await env.HealAllAsync(CancellationToken.None);
            }

            var inFlight = load.Flush(TimeSpan.FromSeconds(60));
            producedLog.Flush();
            context.Event($"load stopped: {load.Acknowledged} acknowledged, {load.Failed} failed, {inFlight} still in flight; waiting for central");
            var drain = Stopwatch.StartNew();
            while (!verifier.IsComplete() && drain.Elapsed < s.DrainTimeout)
            {
                await Task.Delay(500, cancellationToken);
            }

            result.DrainSeconds = verifier.IsComplete() ? drain.Elapsed.TotalSeconds : null;
            context.Event(result.DrainSeconds is { } d ? $"central complete {d:F1}s after the heal" : $"central still incomplete after {s.DrainTimeout.TotalSeconds:F0}s");

            // Let stray second copies arrive before judging: central quiet for 3 s, then again after the final graceful stop.
            await reader.WaitQuietAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), cancellationToken);
            var stop = await env.Forwarder.StopAsync();
            result.FinalStopExitCode = stop?.ExitCode;
            await reader.WaitQuietAsync(TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20), cancellationToken);

            if (reader.ForeignRecords > 0)
            {
                verifier.MarkInvalid($"{reader.ForeignRecords} records at central that are not chaos records (mangled values?)");
            }

            // Two copies naming two offsets of one edge partition are confirmed at the edge (a record it stored twice).
            using (var edgeLookup = new EdgeRecordLookup(env.Edge.BootstrapServers, env.Edge.ClientProperties, TimeSpan.FromSeconds(5)))
            {
                verifier.EdgeLookup = edgeLookup.Lookup;
                result.Verification = verifier.Verify();
                verifier.EdgeLookup = null;
            }
            result.Counters = context.Counters;
            result.Events = context.Events;
            result.BytesProduced = load.Bytes;
            result.ForwarderExits = env.Forwarder.Exits;
            var gracefulOk = stop is null || stop.ExitCode == 0;
            result.Status = result.Verification.Passed && result.DrainSeconds is not null && gracefulOk ? "passed" : "failed";
            if (result.DrainSeconds is null)
            {
                result.Reason = $"central incomplete after the drain timeout ({s.DrainTimeout.TotalSeconds:F0}s)";
            }
            else if (!gracefulOk)
            {
                result.Reason = $"the final SIGTERM stop exited {stop!.ExitCode} ({stop.How})";
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            result.Status = "error";
            result.Reason = "cancelled";
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            result.Status = "error";
            result.Reason = $"{e.GetType().Name}: {e.Message}";
            if (env is not null)
            {
                result.ForwarderExits = env.Forwarder?.Exits ?? [];
            }
        }
        finally
        {
            if (env is not null)
            {
                await env.DisposeAsync();
            }

            result.Seconds = sw.Elapsed.TotalSeconds;
        }

        return result;
    }

    private void Log(string line)
    {
        lock (_out)
        {
            _out.WriteLine($"{_time.GetUtcNow():HH:mm:ss} {line}");
            _out.Flush();
        }
    }
}
