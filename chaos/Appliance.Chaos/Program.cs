using System.CommandLine;
using System.Diagnostics;
using System.Runtime.InteropServices;
using Appliance.Chaos.Faults;
using Appliance.Chaos.Reporting;
using Appliance.Chaos.Running;
using Appliance.Chaos.Verification;

var smoke = new Option<bool>("--smoke") { Description = "The CI run: every fault kind briefly (under 10 minutes)." };
var full = new Option<bool>("--full") { Description = "The full run (about 35 minutes): 50+ partitions, 30+ SIGKILLs, 10+ central restarts, 5+ disk-full episodes, a 1 GiB backlog." };
var scenario = new Option<string[]>("--scenario") { Description = "Run only these scenarios (names from 'list'; repeatable). Taken from the full catalogue with --full, else from the smoke one." };
var results = new Option<string>("--results") { Description = "Results folder.", DefaultValueFactory = _ => Path.Combine("chaos", "results", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture)) };
var seed = new Option<int>("--seed") { Description = "Seed of every random choice.", DefaultValueFactory = _ => 1 };
var user = new Option<string>("--forwarder-uid") { Description = "Uid the forwarder runs as ('none' = as this process). Network faults then hit only the forwarder, not the verifier.", DefaultValueFactory = _ => "65534" };
var forwarderDll = new Option<string?>("--forwarder-dll") { Description = "Path of appliance-forwarder.dll. Default: beside this program." };
var requireAll = new Option<bool>("--require-all") { Description = "Fail when a scenario is skipped (missing nft, loop devices)." };

var run = new Command("run", "Runs scenarios against the forwarder process and verifies central after each.") { smoke, full, scenario, results, seed, user, forwarderDll, requireAll };
run.SetAction(async (p, ct) =>
{
    var catalogue = p.GetValue(full) ? ScenarioCatalog.Full() : ScenarioCatalog.Smoke();
    var names = p.GetValue(scenario) ?? [];
    var chosen = names.Length == 0 ? catalogue : [.. catalogue.Where(s => names.Contains(s.Name, StringComparer.Ordinal))];
    if (chosen.Count != Math.Max(names.Length, chosen.Count) || (names.Length > 0 && chosen.Count != names.Distinct().Count()))
    {
        await Console.Error.WriteLineAsync($"appliance-chaos: unknown scenario; known: {string.Join(", ", catalogue.Select(s => s.Name))}");
        return 2;
    }

    int? uid = p.GetValue(user) is "none" or null ? null : int.Parse(p.GetValue(user)!, System.Globalization.CultureInfo.InvariantCulture);
    if (uid is not null && !Shell.IsRoot)
    {
        uid = null;
    }

    var dll = p.GetValue(forwarderDll) ?? Path.Combine(AppContext.BaseDirectory, "appliance-forwarder.dll");
    if (!File.Exists(dll))
    {
        await Console.Error.WriteLineAsync($"appliance-chaos: forwarder not found at {dll}");
        return 2;
    }

    var dir = Path.GetFullPath(p.GetValue(results)!);
    Directory.CreateDirectory(dir);
    var mode = names.Length > 0 ? "custom" : p.GetValue(full) ? "full" : "smoke";
    using var cts = CancellationTokenSource.CreateLinkedTokenSource(ct);
    void OnSignal(PosixSignalContext c)
    {
        // Stop at the next step and clean up in the finally below, instead of dying with rules and mounts in place.
        c.Cancel = true;
        Console.Error.WriteLine($"appliance-chaos: {c.Signal}: stopping and cleaning up");
        cts.Cancel();
    }

    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
    using var quit = PosixSignalRegistration.Create(PosixSignal.SIGQUIT, OnSignal);

    // Last line of defence: if the runtime terminates the process anyway (observed: a SIGTERM sometimes bypassed the
    // registrations above and ended the process with 143), ProcessExit still runs and removes rules, mounts, processes.
    var finished = false;
    AppDomain.CurrentDomain.ProcessExit += (_, _) =>
    {
        if (!Volatile.Read(ref finished))
        {
            foreach (var l in Leftovers.Cleanup())
            {
                Console.Error.WriteLine($"appliance-chaos: exiting: removed {l}");
            }
        }
    };

    foreach (var l in Leftovers.Cleanup())
    {
        Console.WriteLine($"removed leftover: {l}");
    }

    var sw = Stopwatch.StartNew();
    var started = TimeProvider.System.GetUtcNow();
    IReadOnlyList<ScenarioResult> outcome;
    try
    {
        var runner = new ScenarioRunner(new RunOptions { ResultsDirectory = dir, Seed = p.GetValue(seed), ForwarderUid = uid, ForwarderDll = dll, RequireAll = p.GetValue(requireAll) },
            TimeProvider.System, Console.Out);
        outcome = await runner.RunAsync(chosen, cts.Token);
    }
    finally
    {
        // Whatever happened (exception, Ctrl-C): nothing may stay behind.
        foreach (var l in Leftovers.Cleanup())
        {
            Console.WriteLine($"removed leftover: {l}");
        }

        Volatile.Write(ref finished, true);
    }

    var totals = new FaultCounters();
    foreach (var r in outcome)
    {
        totals.Add(r.Counters);
    }

    var report = new RunReport
    {
        Mode = mode,
        Command = "appliance-chaos run " + string.Join(' ', Environment.GetCommandLineArgs().Skip(2)),
        StartedAt = started,
        Seed = p.GetValue(seed),
        Scenarios = outcome,
        Totals = totals,
        Seconds = sw.Elapsed.TotalSeconds,
    };
    report.ThresholdsMissed = mode == "full" ? ReportWriter.MissedThresholds(totals) : [];
    report.Passed = outcome.Count == chosen.Count
        && outcome.All(r => r.Status == "passed" || (r.Status == "skipped" && !p.GetValue(requireAll)))
        && report.ThresholdsMissed.Count == 0;
    var md = ReportWriter.Write(report, dir);
    Console.WriteLine($"report: {md}");
    Console.WriteLine($"{(report.Passed ? "PASSED" : "FAILED")}: {outcome.Count(r => r.Status == "passed")} passed, {outcome.Count(r => r.Status == "failed")} failed, {outcome.Count(r => r.Status == "error")} errors, {outcome.Count(r => r.Status == "skipped")} skipped in {sw.Elapsed.TotalMinutes:F1} min");
    return report.Passed ? 0 : 1;
});

var central = new Option<string>("--central") { Description = "Central bootstrap servers.", Required = true };
var topics = new Option<string[]>("--topic") { Description = "Destination topic as name:partitions (repeatable).", Required = true };
var gapTopic = new Option<string>("--gap-topic") { Description = "Gap-marker topic (1 partition).", Required = true };
var produced = new Option<string>("--produced") { Description = "The produced log (produced.csv of a scenario folder).", Required = true };
var dupCheck = new Option<DuplicateCheck>("--duplicates") { Description = "Strict, ProvenanceDedup or NotCheckableOnMock.", DefaultValueFactory = _ => DuplicateCheck.Strict };
var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for central to hold every produced record.", DefaultValueFactory = _ => 60 };
var verify = new Command("verify", "Reads central (read_committed) and checks it against a produced log: loss, duplicates, order per key, gap markers.") { central, topics, gapTopic, produced, dupCheck, timeout };
verify.SetAction(async (p, ct) =>
{
    var verifier = new DeliveryVerifier(p.GetValue(dupCheck));
    var lines = ProducedLog.ReadInto(p.GetValue(produced)!, verifier);
    var list = (p.GetValue(topics) ?? []).Select(t => (t[..t.LastIndexOf(':')], int.Parse(t[(t.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture))).ToList();
    await using (var reader = new CentralReader(p.GetValue(central)!, new Dictionary<string, string>(), list, p.GetValue(gapTopic)!, 1, verifier, TimeProvider.System))
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(p.GetValue(timeout)) && !verifier.IsComplete())
        {
            await Task.Delay(500, ct);
        }

        await reader.WaitQuietAsync(TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(30), ct);
    }

    var r = verifier.Verify();
    Console.WriteLine($"{lines} produced-log lines; produced {r.Produced}, delivered {r.Delivered}, lost {r.Lost}, duplicated {r.Duplicated}, redelivered {r.Redelivered} ({r.DuplicateCheck}), out-of-order {r.OutOfOrder}, dropped {r.DroppedByPolicy}, gap-marker count {r.GapMarkerCount}");
    foreach (var f in r.Failures)
    {
        Console.WriteLine($"FAIL {f}");
    }

    foreach (var n in r.Notes)
    {
        Console.WriteLine($"note: {n}");
    }

    return r.Passed ? 0 : 1;
});

var cleanup = new Command("cleanup", "Removes leftovers of an interrupted run: nftables table inet appliance_chaos, loop mounts/images and processes under /tmp/appliance-chaos.");
cleanup.SetAction(_ =>
{
    var removed = Leftovers.Cleanup();
    Console.WriteLine(removed.Count == 0 ? "nothing to clean up" : string.Join(Environment.NewLine, removed.Select(r => $"removed {r}")));
    return 0;
});

var listFull = new Option<bool>("--full") { Description = "List the full run's scenarios." };
var list = new Command("list", "Lists the scenarios.") { listFull };
list.SetAction(p =>
{
    foreach (var s in p.GetValue(listFull) ? ScenarioCatalog.Full() : ScenarioCatalog.Smoke())
    {
        Console.WriteLine($"{s.Name,-26} {s.Delivery,-12} {s.Description}");
    }

    return 0;
});

var root = new RootCommand("Chaos suite of the edge appliance forwarder: scenarios, fault drivers, delivery verifier.") { run, verify, cleanup, list };
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
