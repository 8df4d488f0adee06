// Appends sequenced records to two lanes until killed. After each group commit it prints what is durable:
//   ACK <lane> <offset>        every record of <lane> up to <offset> is durable
//   DELIVERED <lane> <offset>  every record of <lane> up to <offset> was delivered and the truncation is durable
// Offsets continue from the buffer's resume points, so repeated runs on one directory extend the same sequence.
using Appliance.Buffer;
using Appliance.Core.Records;

var dir = args[0];
var random = new Random(int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture));
await using var buffer = DurableBuffer.Open(Appliance.Buffer.CrashWriter.CrashWriterOptions.For(dir));
var resume = buffer.GetResumePoints();
var next = buffer.Lanes.ToDictionary(l => l.Name, l => resume.TryGetValue(new SourcePartition(l.Name, 0), out var n) ? n : 0L);
Console.WriteLine("STARTED");
var payload = new byte[200];
while (true)
{
    var batchSize = random.Next(1, 300);
    for (var i = 0; i < batchSize; i++)
    {
        var lane = buffer.Lanes[random.Next(2)];
        var offset = next[lane.Name]++;
        random.NextBytes(payload);
        var result = await lane.AppendAsync(new EdgeRecord(new SourcePosition(lane.Name, 0, offset), offset, BitConverter.GetBytes(offset), payload));
        if (result.Status != AppendStatus.Accepted)
        {
            next[lane.Name]--;
            break;
        }
    }

    var delivered = new List<(string Lane, long Offset)>();
    if (random.Next(3) == 0)
    {
        foreach (var lane in buffer.Lanes)
        {
            if (lane.Reader.Read(random.Next(1, 500), long.MaxValue) is { } batch)
            {
                await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
                if (lease is not null)
                {
                    await lease.CompleteAsync();
                    var last = batch.Entries.LastOrDefault(e => e.Record is not null)?.Record!.Source.Offset;
                    if (last is { } l)
                    {
                        delivered.Add((lane.Name, l));
                    }
                }
            }
        }
    }

    await buffer.WhenDurableAsync();
    foreach (var lane in buffer.Lanes)
    {
        Console.WriteLine($"ACK {lane.Name} {next[lane.Name] - 1}");
    }

    foreach (var (lane, offset) in delivered)
    {
        Console.WriteLine($"DELIVERED {lane} {offset}");
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
    }
}
