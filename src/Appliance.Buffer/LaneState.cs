using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Records;

namespace Appliance.Buffer;

/// <summary>
/// The lane's bookkeeping stored as the FasterLog commit cookie, so it is exactly as durable as the data it
/// describes: source resume points and record counters. Layout version 1, see docs/buffer-format.md.
/// </summary>
internal sealed class LaneState
{
    private const byte CookieVersion = 1;

    public Dictionary<SourcePartition, long> NextOffsets { get; } = [];

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

        DroppedRecords.CopyTo(c.DroppedRecords, 0);
        return c;
    }

    public void Advance(SourcePosition pos)
    {
        ref var next = ref CollectionsMarshal.GetValueRefOrAddDefault(NextOffsets, pos.SourcePartition, out _);
        if (pos.Offset + 1 > next)
        {
            next = pos.Offset + 1;
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
                var topic = r.ReadString();
                var part = r.ReadInt32();
                s.NextOffsets[new SourcePartition(topic, part)] = r.ReadInt64();
            }
        }
        catch (EndOfStreamException e)
        {
            throw new BufferCorruptionException($"lane '{lane}': commit state is truncated", e);
        }

        return s;
    }
}
