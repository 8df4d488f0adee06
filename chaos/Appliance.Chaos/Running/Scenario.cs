namespace Appliance.Chaos.Running;

/// <summary>What a scenario needs from the machine.</summary>
[Flags]
public enum Needs
{
    /// <summary>Nothing beyond the clusters.</summary>
    None = 0,

    /// <summary>nftables and root (network partitions, packet loss).</summary>
    Nftables = 1,

    /// <summary>Root and loop devices (size-limited buffer filesystem).</summary>
    LoopDisk = 2,

    /// <summary>Broker fault injection (mock clusters).</summary>
    MockFaults = 4,
}

/// <summary>One chaos scenario: load, forwarder settings and a fault timeline.</summary>
public sealed class Scenario
{
    /// <summary>Name (command-line <c>--scenario</c>).</summary>
    public required string Name { get; init; }

    /// <summary>What it does and what it proves.</summary>
    public required string Description { get; init; }

    /// <summary>Forwarder delivery mode: <c>ExactlyOnce</c> or <c>AtLeastOnce</c>.</summary>
    public string Delivery { get; init; } = "ExactlyOnce";

    /// <summary>True when its faults can abort central transactions (kills, central faults): on the mock, exactly-once duplicates are then not checkable.</summary>
    public bool AbortsPossible { get; init; }

    /// <summary>Machine requirements.</summary>
    public Needs Needs { get; init; }

    /// <summary>Background load, records per second over all lanes.</summary>
    public double RecordsPerSecond { get; init; } = 2000;

    /// <summary>Value size of background records.</summary>
    public int RecordBytes { get; init; } = 200;

    /// <summary>Partitions per topic (edge and central).</summary>
    public int Partitions { get; init; } = 8;

    /// <summary>Buffer on a loop-mounted filesystem of this size, MiB (null = plain directory).</summary>
    public int? LoopDiskMiB { get; init; }

    /// <summary>Buffer total budget, bytes.</summary>
    public long BufferBudgetBytes { get; init; } = 512L << 20;

    /// <summary>Quota of the bulk lane, bytes.</summary>
    public long BulkQuotaBytes { get; init; } = 128L << 20;

    /// <summary>Full policy of the bulk lane.</summary>
    public string BulkPolicy { get; init; } = "Block";

    /// <summary>Longest wait for central to have everything after the last fault healed.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(120);

    /// <summary>The fault timeline; the background load runs while it runs.</summary>
    public required Func<ScenarioContext, Task> Faults { get; init; }
}
