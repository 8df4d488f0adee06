namespace Appliance.Chaos.Running;

/// <summary>What a scenario did, counted (the full run's acceptance thresholds are checked against these).</summary>
public sealed class FaultCounters
{
    /// <summary>Blackhole partitions (packets dropped).</summary>
    public int BlackholePartitions { get; set; }

    /// <summary>Reset partitions (connections refused/reset).</summary>
    public int ResetPartitions { get; set; }

    /// <summary>Forwarder SIGKILLs.</summary>
    public int ForwarderKills { get; set; }

    /// <summary>Forwarder SIGTERM restarts.</summary>
    public int ForwarderTerms { get; set; }

    /// <summary>Central cluster restarts (every broker down, then up).</summary>
    public int CentralRestarts { get; set; }

    /// <summary>Single central broker down/up.</summary>
    public int CentralBrokerBounces { get; set; }

    /// <summary>Edge broker down/up.</summary>
    public int EdgeRestarts { get; set; }

    /// <summary>Disk-full episodes under the buffer.</summary>
    public int DiskFullEpisodes { get; set; }

    /// <summary>Periods of added latency.</summary>
    public int LatencyEpisodes { get; set; }

    /// <summary>Periods of random packet loss.</summary>
    public int LossEpisodes { get; set; }

    /// <summary>Largest buffer size on disk seen during an outage, bytes.</summary>
    public long MaxBacklogBytes { get; set; }

    /// <summary>Adds <paramref name="other"/> into this.</summary>
    public void Add(FaultCounters other)
    {
        ArgumentNullException.ThrowIfNull(other);
        BlackholePartitions += other.BlackholePartitions;
        ResetPartitions += other.ResetPartitions;
        ForwarderKills += other.ForwarderKills;
        ForwarderTerms += other.ForwarderTerms;
        CentralRestarts += other.CentralRestarts;
        CentralBrokerBounces += other.CentralBrokerBounces;
        EdgeRestarts += other.EdgeRestarts;
        DiskFullEpisodes += other.DiskFullEpisodes;
        LatencyEpisodes += other.LatencyEpisodes;
        LossEpisodes += other.LossEpisodes;
        MaxBacklogBytes = Math.Max(MaxBacklogBytes, other.MaxBacklogBytes);
    }
}
