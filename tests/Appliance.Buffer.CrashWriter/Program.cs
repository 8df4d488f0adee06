// Appends sequenced records to two lanes until killed. After each group commit it prints what is durable:
//   ACK <lane> <offset>        every record of <lane> up to <offset> is durable
//   DELIVERED <lane> <offset>  every record of <lane> up to <offset> was delivered and the truncation is durable
//   ACK shared <offset>        every record of the partition that feeds both lanes up to <offset> is durable
//   DELIVERED-SHARED <lane> <offset>  shared records of <lane> up to <offset> were delivered (durable)
//   DELIVERING <lane> <offset> / DELIVERING-SHARED <lane> <offset>  printed before a delivery completes: records up to
//                                  <offset> may be gone after a kill (delivered), but nothing after it
// Offsets continue from the buffer's resume points, so repeated runs on one directory extend the same sequences;
// records between the resume point and what a lane already holds come back as AlreadyBuffered.
using Appliance.Buffer;
using Appliance.Core.Records;

var dir = args[0];
var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
await using var buffer = DurableBuffer.Open(Appliance.Buffer.CrashWriter.CrashWriterOptions.For(dir));
var resume = buffer.GetResumePoints();
var next = buffer.Lanes.Select(l => l.Name).Append("shared").ToDictionary(t => t, t => resume.TryGetValue(new SourcePartition(t, 0), out var n) ? n : 0L);
Console.WriteLine($"STARTED {string.Join(' ', next.Select(kv => $"{kv.Key}={kv.Value}"))} lanes: {string.Join(' ', buffer.Lanes.Select(l => $"{l.Name}[{string.Join(',', l.GetStats().BufferedRecords)}]"))}");
var payload = new byte[200];
while (true)
{
    var batchSize = random.Next(1, 300);
    for (var i = 0; i < batchSize; i++)
    {
        // A third of the records come from one partition that feeds both lanes, routed by offset.
        var topic = random.Next(3) switch { 0 => "critical", 1 => "bulk", _ => "shared" };
        var offset = next[topic];
        var lane = topic == "shared" ? buffer.Lanes[Appliance.Buffer.CrashWriter.CrashWriterOptions.SharedLane(offset)] : buffer.Lane(topic);
        random.NextBytes(payload);
        var result = await lane.AppendAsync(new EdgeRecord(new SourcePosition(topic, 0, offset), offset, BitConverter.GetBytes(offset), payload));
        if (result.Status is not (AppendStatus.Accepted or AppendStatus.AlreadyBuffered))
        {
            break;
        }

        if (result.Status == AppendStatus.AlreadyBuffered)
        {
            Console.WriteLine($"SKIPPED {topic} {offset} {lane.Name}");
        }

        next[topic]++;
    }

    var delivered = new List<(string Kind, string Lane, long Offset)>();
    if (random.Next(3) == 0)
    {
        foreach (var lane in buffer.Lanes)
        {
            if (lane.Reader.Read(random.Next(1, 500), long.MaxValue) is { } batch)
            {
                await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
                if (lease is not null)
                {
                    var lasts = new List<(string Kind, long Offset)>();
                    foreach (var (kind, topic) in new[] { ("DELIVERED", lane.Name), ("DELIVERED-SHARED", "shared") })
                    {
                        if (batch.Entries.LastOrDefault(e => e.Record?.Source.Topic == topic)?.Record!.Source.Offset is { } l)
                        {
                            lasts.Add((kind, l));
                            Console.WriteLine($"{kind.Replace("DELIVERED", "DELIVERING", StringComparison.Ordinal)} {lane.Name} {l}");
                        }
                    }

                    await lease.CompleteAsync();
                    delivered.AddRange(lasts.Select(x => (x.Kind, lane.Name, x.Offset)));
                }
            }
        }
    }

    await buffer.WhenDurableAsync();
    foreach (var (topic, n) in next)
    {
        Console.WriteLine($"ACK {topic} {n - 1}");
    }

    foreach (var (kind, lane, offset) in delivered)
    {
        Console.WriteLine($"{kind} {lane} {offset}");
    }
}

namespace Appliance.Buffer.CrashWriter
{
    /// <summary>The buffer settings the writer uses; the test reopens the directory with the same ones.</summary>
    public static class CrashWriterOptions
    {
        /// <summary>Two lanes with small segments so a run crosses segment and page boundaries quickly.</summary>
        public static BufferOptions For(string dir) => new()
        {
            DataDirectory = dir,
            Lanes = [new LaneOptions { Name = "critical", QuotaBytes = 16L << 20 }, new LaneOptions { Name = "bulk", QuotaBytes = 16L << 20 }],
            TotalBudgetBytes = 64L << 20,
            CommitIntervalMs = 1,
            SegmentSizeBits = 20,
            PageSizeBits = 16,
            MemorySizeBits = 18,
        };

        /// <summary>Lane index (0 or 1) of a record of the shared partition: a fixed function of its offset.</summary>
        public static int SharedLane(long offset) => (int)((ulong)(offset * 2654435761L) >> 7) & 1;
    }
}
