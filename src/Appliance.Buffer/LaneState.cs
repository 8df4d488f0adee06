using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Records;

namespace Appliance.Buffer;

/// <summary>
/// The lane's bookkeeping stored as the FasterLog commit cookie, so it is exactly as durable as the data it
/// describes: source resume points and record counters. Layout version 1, see docs/buffer.md ("On-disk format").
/// </summary>
internal sealed class LaneState
{
    private const byte CookieVersion = 1;

    // NextOffsets and LastOffsetCounts are looked up at every append: see SourcePartitionComparer.

    /// <summary>Per source partition routed to this lane: one past the highest offset appended (or dropped).</summary>
    public Dictionary<SourcePartition, long> NextOffsets { get; } = new(new SourcePartitionComparer());

    /// <summary>Per source partition: how many entries carry the highest offset (one input may yield several outputs).</summary>
    public Dictionary<SourcePartition, int> LastOffsetCounts { get; } = new(new SourcePartitionComparer());

    /// <summary>Top lane only: the buffer-wide resume points (every record below them is durable in its lane).</summary>
    public Dictionary<SourcePartition, long> ResumePoints { get; } = [];

    /// <summary>Top lane only: opaque per-partition checkpoints stored for the caller (e.g. open pipeline windows).</summary>
    public Dictionary<SourcePartition, string> SourceCheckpoints { get; } = [];

    public long AppendedRecords { get; set; }

    public long RemovedRecords { get; set; }

    public long[] DroppedRecords { get; } = new long[5];

    public LaneState Clone()
    {
        var c = new LaneState { AppendedRecords = AppendedRecords, RemovedRecords = RemovedRecords };
        foreach (var kv in NextOffsets)
        {
            c.NextOffsets[kv.Key] = kv.Value;
        }

        foreach (var kv in LastOffsetCounts)
        {
            c.LastOffsetCounts[kv.Key] = kv.Value;
        }

        foreach (var kv in ResumePoints)
        {
            c.ResumePoints[kv.Key] = kv.Value;
        }

        foreach (var kv in SourceCheckpoints)
        {
            c.SourceCheckpoints[kv.Key] = kv.Value;
        }

        DroppedRecords.CopyTo(c.DroppedRecords, 0);
        return c;
    }

    public void Advance(SourcePosition pos)
    {
        ref var next = ref CollectionsMarshal.GetValueRefOrAddDefault(NextOffsets, pos.SourcePartition, out _);
        if (pos.Offset + 1 > next)
        {
            next = pos.Offset + 1;
            LastOffsetCounts[pos.SourcePartition] = 1;
        }
        else if (pos.Offset + 1 == next)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(LastOffsetCounts, pos.SourcePartition, out _)++;
        }
    }

    public byte[] Serialize()
    {
        using var ms = new MemoryStream();
        using (var w = new BinaryWriter(ms, Encoding.UTF8, leaveOpen: true))
        {
            w.Write(CookieVersion);
            w.Write(AppendedRecords);
            w.Write(RemovedRecords);
            w.Write((byte)DroppedRecords.Length);
            foreach (var d in DroppedRecords)
            {
                w.Write(d);
            }

            w.Write(NextOffsets.Count);
            foreach (var (p, next) in NextOffsets)
            {
                w.Write(p.Topic);
                w.Write(p.Partition);
                w.Write(next);
                w.Write(LastOffsetCounts.GetValueOrDefault(p));
            }

            w.Write(ResumePoints.Count);
            foreach (var (p, next) in ResumePoints)
            {
                w.Write(p.Topic);
                w.Write(p.Partition);
                w.Write(next);
            }

            w.Write(SourceCheckpoints.Count);
            foreach (var (p, checkpoint) in SourceCheckpoints)
            {
                w.Write(p.Topic);
                w.Write(p.Partition);
                w.Write(checkpoint);
            }
        }

        return ms.ToArray();
    }

    public static LaneState Deserialize(byte[]? cookie, string lane)
    {
        var s = new LaneState();
        if (cookie is null || cookie.Length == 0)
        {
            return s;
        }

        try
        {
            using var r = new BinaryReader(new MemoryStream(cookie), Encoding.UTF8);
            var v = r.ReadByte();
            if (v != CookieVersion)
            {
                throw new BufferFormatException($"lane '{lane}': commit state has version {v}; this build reads version {CookieVersion}");
            }

            s.AppendedRecords = r.ReadInt64();
            s.RemovedRecords = r.ReadInt64();
            var n = r.ReadByte();
            for (var i = 0; i < n; i++)
            {
                var d = r.ReadInt64();
                if (i < s.DroppedRecords.Length)
                {
                    s.DroppedRecords[i] = d;
                }
            }

            var count = r.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                var key = new SourcePartition(r.ReadString(), r.ReadInt32());
                s.NextOffsets[key] = r.ReadInt64();
                s.LastOffsetCounts[key] = r.ReadInt32();
            }

            count = r.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                s.ResumePoints[new SourcePartition(r.ReadString(), r.ReadInt32())] = r.ReadInt64();
            }

            count = r.ReadInt32();
            for (var i = 0; i < count; i++)
            {
                s.SourceCheckpoints[new SourcePartition(r.ReadString(), r.ReadInt32())] = r.ReadString();
            }
        }
        catch (EndOfStreamException e)
        {
            throw new BufferCorruptionException($"lane '{lane}': commit state is truncated", e);
        }

        return s;
    }
}
