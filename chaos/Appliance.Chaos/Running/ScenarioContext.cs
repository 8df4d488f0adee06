using System.Globalization;
using Appliance.Chaos.Faults;
using Appliance.Chaos.Load;
using Appliance.Chaos.Verification;

namespace Appliance.Chaos.Running;

/// <summary>What a scenario's fault timeline works with: the environment, the load, and fault steps that count themselves and always heal.</summary>
public sealed class ScenarioContext
{
    private readonly Action<string> _log;
    private readonly List<string> _events = [];
    private readonly DateTimeOffset _start;

    internal ScenarioContext(ChaosEnvironment env, LoadGenerator load, DeliveryVerifier verifier, Random random, TimeProvider time, Action<string> log, CancellationToken token)
    {
        Env = env;
        Load = load;
        Verifier = verifier;
        Random = random;
        Time = time;
        _log = log;
        Token = token;
        _start = time.GetUtcNow();
    }

    /// <summary>Clusters, forwarder and drivers.</summary>
    public ChaosEnvironment Env { get; }

    /// <summary>The load generator.</summary>
    public LoadGenerator Load { get; }

    /// <summary>The verifier being fed.</summary>
    public DeliveryVerifier Verifier { get; }

    /// <summary>Seeded random source (durations, kill moments).</summary>
    public Random Random { get; }

    /// <summary>Clock.</summary>
    public TimeProvider Time { get; }

    /// <summary>Cancelled on Ctrl-C.</summary>
    public CancellationToken Token { get; }

    /// <summary>Counters of what was done.</summary>
    public FaultCounters Counters { get; } = new();

    /// <summary>Timeline of fault events (seconds since the scenario start).</summary>
    public IReadOnlyList<string> Events => _events;

    /// <summary>Logs and records a timeline event.</summary>
    public void Event(string text)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"+{(Time.GetUtcNow() - _start).TotalSeconds:F1}s {text}");
        lock (_events)
        {
            _events.Add(line);
        }

        _log(line);
    }

    /// <summary>Waits (cancellable).</summary>
    public Task WaitAsync(TimeSpan t) => Task.Delay(t, Token);

    /// <summary>A random duration between <paramref name="minSeconds"/> and <paramref name="maxSeconds"/>.</summary>
    public TimeSpan RandomSeconds(double minSeconds, double maxSeconds) => TimeSpan.FromSeconds(minSeconds + (Random.NextDouble() * (maxSeconds - minSeconds)));

    /// <summary>Cuts the forwarder off central for <paramref name="length"/>, then heals.</summary>
    public async Task PartitionAsync(PartitionKind kind, TimeSpan length)
    {
        var net = Env.Network ?? throw new InvalidOperationException("nftables unavailable");
        net.Partition(kind);
        if (kind == PartitionKind.Blackhole)
        {
            Counters.BlackholePartitions++;
        }
        else
        {
            Counters.ResetPartitions++;
        }

        Event($"partition {kind.ToString().ToLowerInvariant()} for {length.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(length);
            TrackBacklog();
        }
        finally
        {
            net.Heal();
            Event("partition healed");
        }
    }

    /// <summary>Random packet loss of <paramref name="percent"/> % to central for <paramref name="length"/>.</summary>
    public async Task LossAsync(int percent, TimeSpan length)
    {
        var net = Env.Network ?? throw new InvalidOperationException("nftables unavailable");
        net.Loss(percent);
        Counters.LossEpisodes++;
        Event($"packet loss {percent}% for {length.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(length);
        }
        finally
        {
            net.Heal();
            Event("packet loss healed");
        }
    }

    /// <summary>Adds <paramref name="ms"/> response delay to every central broker for <paramref name="length"/>.</summary>
    public async Task LatencyAsync(int ms, TimeSpan length)
    {
        await Env.Central.SetRttAsync(-1, ms, Token);
        Counters.LatencyEpisodes++;
        Event($"central rtt {ms} ms for {length.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(length);
        }
        finally
        {
            await Env.Central.SetRttAsync(-1, 0, CancellationToken.None);
            Event("central rtt 0");
        }
    }

    /// <summary>Every central broker down for <paramref name="down"/>, then up (a central restart).</summary>
    public async Task CentralRestartAsync(TimeSpan down)
    {
        await Env.Central.SetAllBrokersDownAsync(Token);
        Counters.CentralRestarts++;
        Event($"central down for {down.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(down);
            TrackBacklog();
        }
        finally
        {
            await Env.Central.SetAllBrokersUpAsync(CancellationToken.None);
            Event("central up");
        }
    }

    /// <summary>One central broker (1..3) down for <paramref name="down"/>, then up.</summary>
    public async Task CentralBrokerBounceAsync(int broker, TimeSpan down)
    {
        await Env.Central.SetBrokerDownAsync(broker, Token);
        Counters.CentralBrokerBounces++;
        Event($"central broker {broker} down for {down.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(down);
        }
        finally
        {
            await Env.Central.SetBrokerUpAsync(broker, CancellationToken.None);
            Event($"central broker {broker} up");
        }
    }

    /// <summary>The edge broker down for <paramref name="down"/>, then up.</summary>
    public async Task EdgeRestartAsync(TimeSpan down)
    {
        await Env.Edge.SetAllBrokersDownAsync(Token);
        Counters.EdgeRestarts++;
        Event($"edge down for {down.TotalSeconds:F1}s");
        try
        {
            await WaitAsync(down);
        }
        finally
        {
            await Env.Edge.SetAllBrokersUpAsync(CancellationToken.None);
            Event("edge up");
        }
    }

    /// <summary>SIGKILL the forwarder, wait <paramref name="downFor"/>, start it again.</summary>
    public async Task KillForwarderAsync(TimeSpan downFor)
    {
        await Env.Forwarder.KillAsync();
        Counters.ForwarderKills++;
        Event($"forwarder SIGKILL (down {downFor.TotalSeconds:F1}s)");
        try
        {
            await WaitAsync(downFor);
        }
        finally
        {
            Env.Forwarder.Start();
        }
    }

    /// <summary>SIGTERM the forwarder (graceful), wait for its exit, start it again.</summary>
    public async Task TerminateForwarderAsync()
    {
        var exit = await Env.Forwarder.TerminateAsync(TimeSpan.FromSeconds(35));
        Counters.ForwarderTerms++;
        Event(exit is null ? "forwarder SIGTERM: was not running" : $"forwarder SIGTERM: exit {exit.ExitCode} after {exit.StopSeconds:F1}s ({exit.How})");
        Env.Forwarder.Start();
    }

    /// <summary>
    /// Fills the buffer's filesystem (all but <paramref name="leaveBytes"/>) for <paramref name="length"/> while central is
    /// unreachable (so the buffer must grow into the full disk), then frees it and heals.
    /// </summary>
    public async Task DiskFullAsync(TimeSpan length, long leaveBytes, bool cutCentral)
    {
        var disk = Env.Disk ?? throw new InvalidOperationException("the buffer is not on a loop disk");
        if (cutCentral)
        {
            await Env.Central.SetAllBrokersDownAsync(Token);
        }

        disk.Fill(leaveBytes);
        Counters.DiskFullEpisodes++;
        Event($"disk full ({disk.FreeBytes >> 10} KiB free) for {length.TotalSeconds:F1}s{(cutCentral ? ", central down" : "")}");
        var exitsBefore = Env.Forwarder.Exits.Count(e => e.How == "crash");
        try
        {
            await WaitAsync(length);
            TrackBacklog();
        }
        finally
        {
            var crashes = Env.Forwarder.Exits.Count(e => e.How == "crash") - exitsBefore;
            Event($"end of disk-full episode: {disk.FreeBytes >> 10} KiB free, {crashes} forwarder exit(s) during it");
            disk.Free();
            if (cutCentral)
            {
                await Env.Central.SetAllBrokersUpAsync(CancellationToken.None);
            }

            Event($"disk freed ({disk.FreeBytes >> 20} MiB free)");
        }
    }

    /// <summary>Produces <paramref name="bytes"/> extra value bytes at up to <paramref name="bytesPerSecond"/> on top of the background load.</summary>
    public async Task BurstAsync(long bytes, long bytesPerSecond)
    {
        Event($"burst of {bytes >> 20} MiB at {bytesPerSecond >> 20} MiB/s");
        await Load.RunAsync(1_000_000, bytesPerSecond, TimeSpan.FromHours(1), bytes, Token);
        TrackBacklog();
        Event($"burst done: {Load.Bytes >> 20} MiB produced so far, buffer {Env.BufferBytes() >> 20} MiB on disk");
    }

    /// <summary>Records the buffer's current size as a backlog sample.</summary>
    public void TrackBacklog() => Counters.MaxBacklogBytes = Math.Max(Counters.MaxBacklogBytes, Env.BufferBytes());
}
