using Appliance.Chaos.Faults;

namespace Appliance.Chaos.Running;

/// <summary>
/// The scenarios of the smoke run (CI, under 10 minutes) and of the full run (about 35 minutes). chaos/README.md
/// describes each one; keep the two in step.
/// </summary>
public static class ScenarioCatalog
{
    /// <summary>Short versions of every fault kind.</summary>
    public static IReadOnlyList<Scenario> Smoke() =>
    [
        new()
        {
            Name = "baseline",
            Description = "No faults: the measuring stick for latency and the strict exactly-once check.",
            Faults = c => c.WaitAsync(TimeSpan.FromSeconds(8)),
        },
        new()
        {
            Name = "partition-blackhole",
            Description = "Central blackholed (packets to the central broker ports dropped) 2 times for 3-5 s.",
            Needs = Needs.Nftables,
            AbortsPossible = true,
            Faults = async c =>
            {
                for (var i = 0; i < 2; i++)
                {
                    await c.PartitionAsync(PartitionKind.Blackhole, c.RandomSeconds(3, 5));
                    await c.WaitAsync(c.RandomSeconds(1, 2));
                }
            },
        },
        new()
        {
            Name = "partition-reset-flapping",
            Description = "Central refused (TCP reset) 2 times for 2-4 s, then a flapping link: 6 x 0.5 s down / 0.5 s up.",
            Needs = Needs.Nftables,
            AbortsPossible = true,
            Faults = async c =>
            {
                for (var i = 0; i < 2; i++)
                {
                    await c.PartitionAsync(PartitionKind.Reset, c.RandomSeconds(2, 4));
                    await c.WaitAsync(c.RandomSeconds(1, 2));
                }

                for (var i = 0; i < 6; i++)
                {
                    await c.PartitionAsync(i % 2 == 0 ? PartitionKind.Reset : PartitionKind.Blackhole, TimeSpan.FromMilliseconds(500));
                    await c.WaitAsync(TimeSpan.FromMilliseconds(500));
                }
            },
        },
        new()
        {
            Name = "central-restart",
            Description = "All central brokers down 2 times for 3 s, and one broker bounced.",
            Needs = Needs.MockFaults,
            AbortsPossible = true,
            Faults = async c =>
            {
                await c.CentralRestartAsync(TimeSpan.FromSeconds(3));
                await c.WaitAsync(TimeSpan.FromSeconds(2));
                await c.CentralBrokerBounceAsync(1 + c.Random.Next(3), TimeSpan.FromSeconds(3));
                await c.WaitAsync(TimeSpan.FromSeconds(2));
                await c.CentralRestartAsync(TimeSpan.FromSeconds(3));
            },
        },
        new()
        {
            Name = "edge-restart",
            Description = "The edge broker down 2 times for 3 s (the forwarder and the producers reconnect).",
            Needs = Needs.MockFaults,
            Faults = async c =>
            {
                for (var i = 0; i < 2; i++)
                {
                    await c.EdgeRestartAsync(TimeSpan.FromSeconds(3));
                    await c.WaitAsync(TimeSpan.FromSeconds(2));
                }
            },
        },
        new()
        {
            Name = "latency-loss",
            Description = "Central responses delayed 300 ms for 5 s, then 10 % of the forwarder's packets to central dropped for 5 s.",
            Needs = Needs.MockFaults | Needs.Nftables,
            AbortsPossible = true,
            Faults = async c =>
            {
                await c.LatencyAsync(300, TimeSpan.FromSeconds(5));
                await c.LossAsync(10, TimeSpan.FromSeconds(5));
            },
        },
        ForwarderKills("forwarder-sigkill", "The forwarder SIGKILLed 4 times at random moments (at-least-once mode: the mock cannot hide aborted transactions).", "AtLeastOnce", 4, (1.5, 3), (0.2, 1.5)),
        GracefulRestarts("forwarder-sigterm", "The forwarder stopped gracefully (SIGTERM) and restarted 2 times, exactly-once mode.", 2, 2, 3),
        DiskFull(
            "disk-full",
            "Buffer on a 64 MiB ext4 loop disk; central down while the disk is filled to 1 MiB free for 6 s; then freed.",
            c => c.DiskFullAsync(TimeSpan.FromSeconds(6), 1L << 20, cutCentral: true)),
        new()
        {
            Name = "policy-drop",
            Description = "Bulk lane drop-oldest with a 4 MiB quota; central down 16 s under bulk-heavy load: every drop must be matched by a gap marker.",
            Needs = Needs.MockFaults,
            AbortsPossible = true,
            RecordsPerSecond = 5000,
            RecordBytes = 500,
            BulkPolicy = "DropOldest",
            BulkQuotaBytes = 4L << 20,
            // Longer than the forwarder's 10 s transaction timeout: while a batch waits for central its lane's lease
            // holds off eviction (the lane blocks), so drops start only once the attempt is given up.
            Faults = c => c.CentralRestartAsync(TimeSpan.FromSeconds(16)),
        },
        new()
        {
            Name = "outage-backlog",
            Description = "Central blackholed while 100 MiB are produced on top of the load; then healed: drain time measured.",
            Needs = Needs.Nftables,
            AbortsPossible = true,
            // The mock keeps about 5 MiB per partition: 48 partitions hold the 100 MiB backlog even when the drain
            // (at-least-once on the mock) outruns the verifier's reader.
            Partitions = 48,
            RecordBytes = 1000,
            Faults = c => BlackholedBurstAsync(c, "outage", 100L << 20, 20L << 20, TimeSpan.FromSeconds(2)),
        },
    ];

    /// <summary>The full run: the acceptance counts (50+ partitions of both kinds, 30+ SIGKILLs, 10+ central restarts, 5+ disk-full episodes, a 1 GiB backlog).</summary>
    public static IReadOnlyList<Scenario> Full() =>
    [
        new()
        {
            Name = "baseline",
            Description = "No faults for 60 s.",
            Faults = c => c.WaitAsync(TimeSpan.FromSeconds(60)),
        },
        new()
        {
            Name = "partitions-56",
            Description = "56 partitions to central, alternating blackhole and reset, random 1-8 s long, 1-4 s apart; every 8th is a flapping burst of 0.3-1 s.",
            Needs = Needs.Nftables,
            AbortsPossible = true,
            DrainTimeout = TimeSpan.FromMinutes(5),
            Faults = async c =>
            {
                for (var i = 0; i < 56; i++)
                {
                    var kind = i % 2 == 0 ? PartitionKind.Blackhole : PartitionKind.Reset;
                    var length = i % 8 == 7 ? c.RandomSeconds(0.3, 1) : c.RandomSeconds(1, 8);
                    await c.PartitionAsync(kind, length);
                    await c.WaitAsync(i % 8 == 7 ? TimeSpan.FromMilliseconds(300) : c.RandomSeconds(1, 4));
                }
            },
        },
        ForwarderKills("forwarder-sigkill-32", "32 SIGKILLs of the forwarder at random moments (3-10 s apart), at-least-once mode.", "AtLeastOnce", 32, (3, 10), (0.1, 3)),
        ForwarderKills("forwarder-sigkill-eos", "6 SIGKILLs in exactly-once mode (loss and order strict; duplicates not checkable on the mock).", "ExactlyOnce", 6, (3, 8), (0.1, 2)),
        new()
        {
            Name = "central-restarts-12",
            Description = "12 central restarts (all brokers down 2-10 s) and 6 single-broker bounces.",
            Needs = Needs.MockFaults,
            AbortsPossible = true,
            Faults = async c =>
            {
                for (var i = 0; i < 12; i++)
                {
                    await c.CentralRestartAsync(c.RandomSeconds(2, 10));
                    await c.WaitAsync(c.RandomSeconds(2, 5));
                    if (i % 2 == 0)
                    {
                        await c.CentralBrokerBounceAsync(1 + c.Random.Next(3), c.RandomSeconds(2, 6));
                        await c.WaitAsync(c.RandomSeconds(1, 3));
                    }
                }
            },
        },
        new()
        {
            Name = "edge-restarts",
            Description = "6 edge broker restarts, 2-8 s down.",
            Needs = Needs.MockFaults,
            Faults = async c =>
            {
                for (var i = 0; i < 6; i++)
                {
                    await c.EdgeRestartAsync(c.RandomSeconds(2, 8));
                    await c.WaitAsync(c.RandomSeconds(2, 5));
                }
            },
        },
        new()
        {
            Name = "latency-loss",
            Description = "Central RTT 50, 200, 500, 1000 ms (20 s each), then 5 % and 20 % packet loss (20 s each).",
            Needs = Needs.MockFaults | Needs.Nftables,
            AbortsPossible = true,
            Faults = async c =>
            {
                foreach (var ms in new[] { 50, 200, 500, 1000 })
                {
                    await c.LatencyAsync(ms, TimeSpan.FromSeconds(20));
                }

                foreach (var p in new[] { 5, 20 })
                {
                    await c.LossAsync(p, TimeSpan.FromSeconds(20));
                }
            },
        },
        GracefulRestarts("forwarder-sigterm", "8 graceful restarts (SIGTERM), exactly-once mode.", 8, 3, 8),
        DiskFull(
            "disk-full-6",
            "6 disk-full episodes (64 MiB loop disk filled to 1 MiB free, central down, 5-15 s each).",
            async c =>
            {
                for (var i = 0; i < 6; i++)
                {
                    await c.DiskFullAsync(c.RandomSeconds(5, 15), 1L << 20, cutCentral: true);
                    await c.WaitAsync(c.RandomSeconds(5, 10));
                }
            }),
        new()
        {
            Name = "policy-drop",
            Description = "Bulk lane drop-oldest (4 MiB quota): 3 central outages of 20 s under bulk-heavy load; drops matched by gap markers.",
            Needs = Needs.MockFaults,
            AbortsPossible = true,
            RecordsPerSecond = 5000,
            RecordBytes = 500,
            BulkPolicy = "DropOldest",
            BulkQuotaBytes = 4L << 20,
            Faults = async c =>
            {
                for (var i = 0; i < 3; i++)
                {
                    await c.CentralRestartAsync(TimeSpan.FromSeconds(20));
                    await c.WaitAsync(TimeSpan.FromSeconds(15));
                }
            },
        },
        new()
        {
            Name = "outage-1gib",
            Description = "Central blackholed while 1.1 GiB are produced (1 KB records, 32 partitions); then healed: drain time measured.",
            Needs = Needs.Nftables,
            AbortsPossible = true,
            Partitions = 32,
            RecordBytes = 1000,
            BufferBudgetBytes = 3L << 30,
            BulkQuotaBytes = 2L << 30,
            DrainTimeout = TimeSpan.FromMinutes(15),
            Faults = c => BlackholedBurstAsync(c, "long outage", 1100L << 20, 15L << 20, TimeSpan.FromSeconds(10)),
        },
    ];

    /// <summary>
    /// SIGKILLs of the forwarder, <paramref name="kills"/> times: each after it ran for a random time in
    /// <paramref name="running"/> seconds, and restarted after a random time in <paramref name="down"/> seconds.
    /// </summary>
    private static Scenario ForwarderKills(string name, string description, string delivery, int kills, (double Min, double Max) running, (double Min, double Max) down) => new()
    {
        Name = name,
        Description = description,
        Delivery = delivery,
        AbortsPossible = true,
        Faults = async c =>
        {
            for (var i = 0; i < kills; i++)
            {
                await c.WaitAsync(c.RandomSeconds(running.Min, running.Max));
                await c.KillForwarderAsync(c.RandomSeconds(down.Min, down.Max));
            }
        },
    };

    /// <summary>
    /// Central blackholed while <paramref name="bytes"/> are produced on top of the load at <paramref name="bytesPerSecond"/>,
    /// then <paramref name="settle"/> more, the backlog tracked, and healed (also when the burst fails).
    /// </summary>
    private static async Task BlackholedBurstAsync(ScenarioContext c, string label, long bytes, long bytesPerSecond, TimeSpan settle)
    {
        var net = c.Env.Network ?? throw new InvalidOperationException("nftables unavailable");
        net.Partition(PartitionKind.Blackhole);
        c.Counters.BlackholePartitions++;
        c.Event($"{label} (blackhole) begins");
        try
        {
            await c.BurstAsync(bytes, bytesPerSecond);
            await c.WaitAsync(settle);
            c.TrackBacklog();
        }
        finally
        {
            net.Heal();
            c.Event($"{label} healed");
        }
    }

    /// <summary>SIGTERM restarts of the forwarder, <paramref name="restarts"/> times, a random gap between them.</summary>
    private static Scenario GracefulRestarts(string name, string description, int restarts, double minGapSeconds, double maxGapSeconds) => new()
    {
        Name = name,
        Description = description,
        AbortsPossible = true,
        Faults = async c =>
        {
            for (var i = 0; i < restarts; i++)
            {
                await c.WaitAsync(c.RandomSeconds(minGapSeconds, maxGapSeconds));
                await c.TerminateForwarderAsync();
            }
        },
    };

    /// <summary>The buffer on a 64 MiB loop disk (48 MiB budget, 16 MiB bulk quota) with the given disk-full faults.</summary>
    private static Scenario DiskFull(string name, string description, Func<ScenarioContext, Task> faults) => new()
    {
        Name = name,
        Description = description,
        Needs = Needs.LoopDisk | Needs.MockFaults,
        AbortsPossible = true,
        LoopDiskMiB = 64,
        BufferBudgetBytes = 48L << 20,
        BulkQuotaBytes = 16L << 20,
        Faults = faults,
    };
}
