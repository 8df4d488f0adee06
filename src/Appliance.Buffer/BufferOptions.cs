using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text;

namespace Appliance.Buffer;

/// <summary>What a lane does when appending would exceed its quota or the total budget.</summary>
public enum FullPolicy
{
    /// <summary>Refuse the record (the caller pauses ingest; the edge broker's retention keeps the data). Nothing is dropped.</summary>
    Block,

    /// <summary>Evict the lane's oldest records until the new one fits. Evicted records are counted and reported in a gap marker.</summary>
    DropOldest,

    /// <summary>Drop the new record. Dropped records are counted and reported in a gap marker.</summary>
    DropNewest,
}

/// <summary>Settings of one priority lane. Lanes are ordered: the first configured lane has the highest priority.</summary>
public sealed class LaneOptions
{
    /// <summary>Lane name: lower-case letters, digits and '-', 1-32 characters. Used as the directory name.</summary>
    [Required]
    [RegularExpression("^[a-z0-9][a-z0-9-]{0,31}$", ErrorMessage = "must be 1-32 characters of a-z, 0-9 and '-', starting with a letter or digit")]
    public string Name { get; set; } = "";

    /// <summary>Most bytes this lane may hold (log bytes between its oldest undelivered record and its tail). The default value is 256 MiB.</summary>
    [Range(1L << 20, long.MaxValue, ErrorMessage = "must be at least 1 MiB")]
    public long QuotaBytes { get; set; } = 256L << 20;

    /// <summary>What happens when the lane (or the whole buffer) is full. The default value is <see cref="FullPolicy.Block"/>.</summary>
    public FullPolicy FullPolicy { get; set; } = FullPolicy.Block;

    /// <summary>Records older than this (time since they were buffered) are dropped with reason <c>ttl</c>. The default value is null (no TTL).</summary>
    public TimeSpan? Ttl { get; set; }

    /// <summary>Relative share of the uplink (bytes) given to this lane by the drain scheduler. The default value is 1.</summary>
    [Range(1, 1000)]
    public int Weight { get; set; } = 1;
}

/// <summary>Settings of the durable buffer. Configuration section <c>Buffer</c>.</summary>
public sealed class BufferOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Buffer";

    /// <summary>Directory holding all lanes. The default value is <c>/data/forwarder/buffer</c>.</summary>
    [Required]
    public string DataDirectory { get; set; } = "/data/forwarder/buffer";

    /// <summary>Priority lanes, highest priority first. At least one is required.</summary>
    public List<LaneOptions> Lanes { get; set; } = [];

    /// <summary>Total byte budget over all lanes. The default value is 1 GiB.</summary>
    [Range(1L << 20, long.MaxValue, ErrorMessage = "must be at least 1 MiB")]
    public long TotalBudgetBytes { get; set; } = 1L << 30;

    /// <summary>Group commit: commit at most this many milliseconds after the first uncommitted append. The default value is 5 ms.</summary>
    [Range(1, 10_000)]
    public int CommitIntervalMs { get; set; } = 5;

    /// <summary>Group commit: commit as soon as this many bytes are uncommitted in a lane. The default value is 1 MiB.</summary>
    [Range(4096, 1L << 30)]
    public long CommitBytes { get; set; } = 1L << 20;

    /// <summary>Log segment file size as a power of two. Delivered data is reclaimed a whole segment at a time. The default value is 24 (16 MiB).</summary>
    [Range(20, 30)]
    public int SegmentSizeBits { get; set; } = 24;

    /// <summary>
    /// Delivered segment files the buffer keeps for reuse instead of deleting them, at most this many in all lanes
    /// together: any lane's next new segment is one of them renamed, so its disk blocks and cached pages are written
    /// over rather than allocated again. A spare is kept only while the segment files in use and spare stay within
    /// <see cref="TotalBudgetBytes"/>, so spares never take space beyond the budget. The default value is 8 (128 MiB
    /// with the default segment size).
    /// </summary>
    [Range(0, 1024)]
    public int SpareSegments { get; set; } = 8;

    /// <summary>Log page size as a power of two. The default value is 20 (1 MiB).</summary>
    [Range(16, 24)]
    public int PageSizeBits { get; set; } = 20;

    /// <summary>In-memory log buffer per lane as a power of two (at least two pages). The default value is 22 (4 MiB).</summary>
    [Range(17, 28)]
    public int MemorySizeBits { get; set; } = 22;

    /// <summary>How often TTL expiry runs. The default value is 1 second.</summary>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Seam for fault-injection tests: wraps a lane's log device (the lane disposes the wrapper, which must dispose the device). Not bound from configuration.</summary>
    internal Func<FASTER.core.IDevice, FASTER.core.IDevice>? WrapDevice { get; set; }

    /// <summary>Seam for fault-injection tests: called with each lane's commit manager when the lane is opened. Not bound from configuration.</summary>
    internal Action<string, LaneCommitManager>? CommitManagerCreated { get; set; }

    /// <summary>Checks the rules that DataAnnotations cannot express. Returns one message per problem, naming the key.</summary>
    public IEnumerable<string> ValidateCrossField()
    {
        if (Lanes.Count == 0)
        {
            yield return "Buffer:Lanes: at least one lane is required";
        }

        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < Lanes.Count; i++)
        {
            var lane = Lanes[i];
            var key = $"Buffer:Lanes:{i}";
            var ctx = new ValidationContext(lane);
            var results = new List<ValidationResult>();
            if (!Validator.TryValidateObject(lane, ctx, results, validateAllProperties: true))
            {
                foreach (var r in results)
                {
                    yield return $"{key}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}";
                }
            }

            if (!seen.Add(lane.Name))
            {
                yield return $"{key}:Name: lane '{lane.Name}' is configured twice";
            }

            if (lane.QuotaBytes > TotalBudgetBytes)
            {
                yield return $"{key}:QuotaBytes: {lane.QuotaBytes} is larger than Buffer:TotalBudgetBytes ({TotalBudgetBytes})";
            }

            if (lane.QuotaBytes < 4L << SegmentSizeBits)
            {
                yield return $"{key}:QuotaBytes: {lane.QuotaBytes} must be at least 4 segments (4 x 2^Buffer:SegmentSizeBits = {4L << SegmentSizeBits}) because disk space is reclaimed a segment at a time";
            }

            if (lane.Ttl is { } ttl && ttl <= TimeSpan.Zero)
            {
                yield return $"{key}:Ttl: must be positive when set";
            }
        }

        if (MemorySizeBits < PageSizeBits + 1)
        {
            yield return $"Buffer:MemorySizeBits: must be at least Buffer:PageSizeBits + 1 (two pages); got {MemorySizeBits} < {PageSizeBits + 1}";
        }

        if (SegmentSizeBits < MemorySizeBits)
        {
            yield return $"Buffer:SegmentSizeBits: must be at least Buffer:MemorySizeBits ({MemorySizeBits}); got {SegmentSizeBits}";
        }

        if (MaintenanceInterval <= TimeSpan.Zero)
        {
            yield return "Buffer:MaintenanceInterval: must be positive";
        }
    }

    /// <summary>Loggable one-line summary with units.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"dir={DataDirectory} budget={TotalBudgetBytes}B commit={CommitIntervalMs}ms/{CommitBytes}B segment=2^{SegmentSizeBits}B spares={SpareSegments} page=2^{PageSizeBits}B memory=2^{MemorySizeBits}B lanes=[");
        for (var i = 0; i < Lanes.Count; i++)
        {
            var l = Lanes[i];
            if (i > 0)
            {
                sb.Append(", ");
            }

            sb.Append(CultureInfo.InvariantCulture, $"{l.Name}: quota={l.QuotaBytes}B policy={l.FullPolicy} ttl={(l.Ttl is { } t ? t.ToString() : "none")} weight={l.Weight}");
        }

        return sb.Append(']').ToString();
    }
}
