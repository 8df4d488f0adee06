using System.Text;
using Appliance.Core.Records;

namespace Appliance.Buffer.Tests;

/// <summary>Builds buffers under a per-test temp directory with small segments so quotas can be small.</summary>
public abstract class BufferTestBase : IDisposable
{
    protected BufferTestBase()
    {
        Dir = Path.Combine(Path.GetTempPath(), "appliance-buffer-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Dir);
    }

    protected string Dir { get; }

    protected static BufferOptions Options(string dir, params LaneOptions[] lanes) => new()
    {
        DataDirectory = dir,
        Lanes = lanes.Length > 0 ? [.. lanes] : [Lane("critical"), Lane("bulk")],
        TotalBudgetBytes = 64L << 20,
        CommitIntervalMs = 2,
        SegmentSizeBits = 20,
        PageSizeBits = 16,
        MemorySizeBits = 18,
    };

    protected static LaneOptions Lane(string name, long quota = 16L << 20, FullPolicy policy = FullPolicy.Block, TimeSpan? ttl = null) =>
        new() { Name = name, QuotaBytes = quota, FullPolicy = policy, Ttl = ttl };

    protected static EdgeRecord Rec(long offset, string topic = "sensors", int partition = 0, int valueBytes = 100, string? key = null)
    {
        var value = new byte[valueBytes];
        Encoding.ASCII.GetBytes(offset.ToString(System.Globalization.CultureInfo.InvariantCulture)).CopyTo(value, 0);
        return new EdgeRecord(
            new SourcePosition(topic, partition, offset),
            1_700_000_000_000 + offset,
            key is null ? null : Encoding.UTF8.GetBytes(key),
            value,
            [new RecordHeader("h", [1, 2, 3]), new RecordHeader("null", null)],
            destinationTopic: offset % 2 == 0 ? null : "dest");
    }

    /// <summary>Reads every committed entry of a lane without delivering it.</summary>
    protected static List<BufferEntry> ReadAll(BufferLane lane)
    {
        lane.Reader.Rewind();
        var all = new List<BufferEntry>();
        while (lane.Reader.Read(10_000, long.MaxValue) is { } batch)
        {
            all.AddRange(batch.Entries);
        }

        lane.Reader.Rewind();
        return all;
    }

    protected static async Task DeliverAllAsync(BufferLane lane)
    {
        while (lane.Reader.Read(1000, long.MaxValue) is { } batch)
        {
            await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
            Assert.NotNull(lease);
            await lease.CompleteAsync();
        }
    }

    /// <summary>Appends records <paramref name="from"/> .. <paramref name="from"/> + <paramref name="count"/> - 1 to a lane, one by one.</summary>
    protected static async Task AppendAsync(BufferLane lane, long from, int count, int valueBytes = 100)
    {
        for (var i = from; i < from + count; i++)
        {
            await lane.AppendAsync(Rec(i, valueBytes: valueBytes));
        }
    }

    /// <summary>Runs <paramref name="act"/>, then puts the lane's commit slots back as they were before it.</summary>
    protected static async Task WithCommitsRolledBackAsync(string laneDirectory, Func<Task> act)
    {
        var commits = Path.Combine(laneDirectory, "commits");
        var saved = Directory.GetFiles(commits).ToDictionary(f => f, File.ReadAllBytes);
        await act();
        foreach (var extra in Directory.GetFiles(commits).Where(f => !saved.ContainsKey(f)))
        {
            File.Delete(extra);
        }

        foreach (var (path, bytes) in saved)
        {
            await File.WriteAllBytesAsync(path, bytes);
        }
    }

    protected static long DirectoryBytes(string dir) => new DirectoryInfo(dir).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Dir, recursive: true);
        }
        catch (IOException)
        {
        }

        GC.SuppressFinalize(this);
    }
}
