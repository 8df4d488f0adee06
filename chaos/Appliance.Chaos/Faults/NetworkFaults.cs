using System.Globalization;

namespace Appliance.Chaos.Faults;

/// <summary>How a partition looks to the forwarder.</summary>
public enum PartitionKind
{
    /// <summary>Packets silently dropped: connections hang until timeouts fire.</summary>
    Blackhole,

    /// <summary>Connections refused or reset at once (TCP RST).</summary>
    Reset,
}

/// <summary>
/// Network faults on loopback with nftables, in one dedicated table <c>inet appliance_chaos</c> that nothing else
/// uses: every rule lives in its chain, <see cref="Heal"/> flushes the chain and <see cref="Cleanup"/> deletes the
/// table (also by the <c>cleanup</c> subcommand after a crash). Rules match only TCP packets to the central broker
/// ports, and when <see cref="OwnerUid"/> is set only packets of sockets owned by that user (the forwarder runs as
/// its own user so the verifier's reader keeps seeing central).
/// </summary>
public sealed class NetworkFaults : IDisposable
{
    /// <summary>The table's well-known name.</summary>
    public const string Table = "appliance_chaos";

    private readonly IReadOnlyList<int> _ports;

    /// <summary>Creates the table and its output chain.</summary>
    public NetworkFaults(IReadOnlyList<int> centralPorts, int? ownerUid)
    {
        ArgumentNullException.ThrowIfNull(centralPorts);
        if (centralPorts.Count == 0)
        {
            throw new ArgumentException("no ports", nameof(centralPorts));
        }

        _ports = centralPorts;
        OwnerUid = ownerUid;
        // Recreate from scratch: a leftover table of a crashed run must not keep old rules.
        Cleanup();
        Nft($"add table inet {Table}\nadd chain inet {Table} out {{ type filter hook output priority 0; policy accept; }}\n");
    }

    /// <summary>Only sockets of this user are affected; null = every socket (then the verifier's reader is cut off too).</summary>
    public int? OwnerUid { get; }

    /// <summary>The fault currently applied, or null.</summary>
    public string? Active { get; private set; }

    /// <summary>True when nft is installed and this process is root.</summary>
    public static bool IsAvailable() => Shell.IsRoot && Shell.Exists("nft");

    /// <summary>The nft rule for a partition (without <c>add rule</c>), exposed for tests.</summary>
    public string PartitionRule(PartitionKind kind) =>
        $"{Match()} {(kind == PartitionKind.Blackhole ? "drop" : "reject with tcp reset")}";

    /// <summary>Cuts the forwarder off central.</summary>
    public void Partition(PartitionKind kind)
    {
        Heal();
        Nft($"add rule inet {Table} out {PartitionRule(kind)}\n");
        Active = kind == PartitionKind.Blackhole ? "blackhole" : "reset";
    }

    /// <summary>Drops <paramref name="percent"/> % of the forwarder's packets to central at random.</summary>
    public void Loss(int percent)
    {
        Heal();
        Nft($"add rule inet {Table} out {Match()} numgen random mod 100 < {percent.ToString(CultureInfo.InvariantCulture)} drop\n");
        Active = $"loss {percent}%";
    }

    /// <summary>Removes every rule (the table stays for the next fault).</summary>
    public void Heal()
    {
        Nft($"flush chain inet {Table} out\n");
        Active = null;
    }

    /// <summary>The rules currently in the table (nft list output).</summary>
    public static string List() => Shell.Run("nft", ["list", "table", "inet", Table]).Stdout;

    /// <summary>Deletes the table if it exists; returns true when one was deleted.</summary>
    public static bool Cleanup()
    {
        if (!Shell.Run("nft", ["list", "table", "inet", Table]).Ok)
        {
            return false;
        }

        Shell.Check("nft", ["delete", "table", "inet", Table]);
        return true;
    }

    /// <inheritdoc />
    public void Dispose() => Cleanup();

    private string Match()
    {
        var ports = string.Join(", ", _ports.Select(p => p.ToString(CultureInfo.InvariantCulture)));
        var owner = OwnerUid is { } uid ? $"meta skuid {uid.ToString(CultureInfo.InvariantCulture)} " : "";
        return $"{owner}ip daddr 127.0.0.0/8 tcp dport {{ {ports} }}";
    }

    private static void Nft(string script) => Shell.Check("nft", ["-f", "-"], script);
}
