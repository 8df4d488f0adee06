using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Appliance.Core.Records;
using Xunit.Abstractions;

namespace Appliance.Buffer.Tests;

/// <summary>
/// Kills a writer process with SIGKILL at random points, 20 times on one directory, and checks after each kill that
/// every record reported durable is there, in order, and nothing else.
/// </summary>
[Trait("Category", "Integration")]
public sealed class CrashTests(ITestOutputHelper output) : BufferTestBase
{
    private static readonly string[] LaneNames = ["critical", "bulk"];

    private List<string> _lastRun = [];

    [Fact]
    public async Task SigKill_AtRandomPoints_RecoversEveryDurableRecordInOrderAndNothingElse()
    {
        var random = new Random(20261125);
        var lastAck = LaneNames.Append("shared").ToDictionary(l => l, _ => -1L);
        var lastDelivered = LaneNames.ToDictionary(l => l, _ => -1L);
        var lastDeliveredShared = LaneNames.ToDictionary(l => l, _ => -1L);
        var maxDelivering = LaneNames.ToDictionary(l => l, _ => -1L);
        var maxDeliveringShared = LaneNames.ToDictionary(l => l, _ => -1L);
        for (var kill = 0; kill < 20; kill++)
        {
            var ackTarget = random.Next(3, 120);
            var (acks, delivered, deliveredShared, delivering, deliveringShared) = await RunWriterUntilKilledAsync(random.Next(), ackTarget);
            lastAck["shared"] = Math.Max(lastAck["shared"], acks.GetValueOrDefault("shared", -1));
            foreach (var l in LaneNames)
            {
                lastAck[l] = Math.Max(lastAck[l], acks.GetValueOrDefault(l, -1));
                lastDelivered[l] = Math.Max(lastDelivered[l], delivered.GetValueOrDefault(l, -1));
                lastDeliveredShared[l] = Math.Max(lastDeliveredShared[l], deliveredShared.GetValueOrDefault(l, -1));
                maxDelivering[l] = Math.Max(maxDelivering[l], delivering.GetValueOrDefault(l, -1));
                maxDeliveringShared[l] = Math.Max(maxDeliveringShared[l], deliveringShared.GetValueOrDefault(l, -1));
            }

            await using var buffer = DurableBuffer.Open(WriterOptions(Dir));
            var resume = buffer.GetResumePoints();
            foreach (var l in LaneNames)
            {
                var entries = ReadAll(buffer.Lane(l)).Where(e => e.Record?.Source.Topic == l).ToList();
                var offsets = entries.Select(e => e.Record!.Source.Offset).ToList();
                for (var i = 1; i < offsets.Count; i++)
                {
                    Assert.True(offsets[i] == offsets[i - 1] + 1, $"kill {kill}, lane {l}: offset {offsets[i]} (address {entries[i].Address}) follows {offsets[i - 1]} (address {entries[i - 1].Address}, next {entries[i - 1].NextAddress}) (a gap, duplicate or reorder); lane begin {buffer.Lane(l).BeginAddress}, committed {buffer.Lane(l).CommittedUntilAddress}, last durable ack {lastAck[l]}");
                }

                if (offsets.Count > 0)
                {
                    Assert.True(offsets[^1] >= lastAck[l], $"kill {kill}, lane {l}: durable record {lastAck[l]} lost; recovered up to {offsets[^1]}");
                    Assert.True(offsets[0] > lastDelivered[l], $"kill {kill}, lane {l}: delivered record {offsets[0]} came back (delivered up to {lastDelivered[l]})");
                    Assert.True(offsets[0] <= Math.Max(maxDelivering[l], lastDelivered[l]) + 1, $"kill {kill}, lane {l}: records before {offsets[0]} are gone but only up to {maxDelivering[l]} were being delivered");
                    // Resume points trail the data by about one commit; they must never be past it.
                    Assert.True(resume.GetValueOrDefault(new SourcePartition(l, 0)) <= offsets[^1] + 1, $"kill {kill}, lane {l}: resume point past the data");
                }
                else
                {
                    Assert.True(Math.Max(maxDelivering[l], lastDelivered[l]) >= lastAck[l], $"kill {kill}, lane {l}: nothing recovered but record {lastAck[l]} was durable and not delivered");
                }

                output.WriteLine($"kill {kill}: lane {l} recovered {offsets.Count} records ({(offsets.Count > 0 ? $"{offsets[0]}..{offsets[^1]}" : "-")}), last durable ack {lastAck[l]}, last delivered {lastDelivered[l]}");
            }

            // The partition that feeds both lanes: each lane holds its share in order, no offset twice, and every
            // durable offset is either still in its lane or was delivered from it.
            var shared = LaneNames.ToDictionary(l => l, l => ReadAll(buffer.Lane(l)).Where(e => e.Record?.Source.Topic == "shared").Select(e => e.Record!.Source.Offset).ToList());
            foreach (var l in LaneNames)
            {
                for (var i = 1; i < shared[l].Count; i++)
                {
                    Assert.True(shared[l][i] > shared[l][i - 1], $"kill {kill}, lane {l}: shared offset {shared[l][i]} after {shared[l][i - 1]}");
                }
            }

            var present = LaneNames.Select((l, i) => (Index: i, Set: shared[l].ToHashSet())).ToList();
            Assert.Empty(present[0].Set.Intersect(present[1].Set));
            // Every offset below the resume point must be there (or delivered), not only those acknowledged: the writer
            // continues at the resume point, so an offset below it that is missing would never be written.
            var sharedResume = resume.GetValueOrDefault(new SourcePartition("shared", 0));
            for (var o = 0L; o <= Math.Max(lastAck["shared"], sharedResume - 1); o++)
            {
                var laneIndex = CrashWriter.CrashWriterOptions.SharedLane(o);
                var lane = LaneNames[laneIndex];
                var firstHeld = shared[lane].Count > 0 ? shared[lane][0] : long.MaxValue;
                Assert.True(present[laneIndex].Set.Contains(o) || (o < firstHeld && o <= Math.Max(maxDeliveringShared[lane], lastDeliveredShared[lane])), $"kill {kill}: durable shared offset {o} lost from lane {lane} (resume {sharedResume}, last ack {lastAck["shared"]}); lane holds {(shared[lane].Count > 0 ? $"{shared[lane][0]}..{shared[lane][^1]} ({shared[lane].Count})" : "none")}, neighbours {string.Join(",", shared[lane].Where(x => Math.Abs(x - o) < 6))}, other lane holds {string.Join(",", shared[LaneNames[1 - laneIndex]].Where(x => Math.Abs(x - o) < 6))}, delivered up to {lastDeliveredShared[lane]}, resume {resume.GetValueOrDefault(new SourcePartition("shared", 0))}, last ack {lastAck["shared"]}; writer: {string.Join(" | ", _lastRun.Where(x => x.StartsWith("STARTED", StringComparison.Ordinal) || x.StartsWith("SKIPPED shared", StringComparison.Ordinal)).Take(30))}");
            }

            var highestShared = LaneNames.SelectMany(l => shared[l]).Concat(lastDeliveredShared.Values).DefaultIfEmpty(-1).Max();
            Assert.True(resume.GetValueOrDefault(new SourcePartition("shared", 0)) <= highestShared + 1, $"kill {kill}: shared resume point past the data ({highestShared})");
            output.WriteLine($"kill {kill}: shared partition {shared.Sum(kv => kv.Value.Count)} records in lanes, last durable ack {lastAck["shared"]}, resume {resume.GetValueOrDefault(new SourcePartition("shared", 0))}");
        }
    }

    private static BufferOptions WriterOptions(string dir) => CrashWriter.CrashWriterOptions.For(dir);

    private async Task<(Dictionary<string, long> Acks, Dictionary<string, long> Delivered, Dictionary<string, long> DeliveredShared, Dictionary<string, long> Delivering, Dictionary<string, long> DeliveringShared)> RunWriterUntilKilledAsync(int seed, int ackTarget)
    {
        var writer = Path.Combine(AppContext.BaseDirectory.Replace("Appliance.Buffer.Tests", "Appliance.Buffer.CrashWriter", StringComparison.Ordinal), "Appliance.Buffer.CrashWriter.dll");
        Assert.True(File.Exists(writer), $"crash writer not built: {writer}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(writer);
        psi.ArgumentList.Add(Dir);
        psi.ArgumentList.Add(seed.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(psi)!;
        var lines = new BlockingCollection<string>();
        var all = new ConcurrentQueue<string>();
        var acks = new Dictionary<string, long>();
        var delivered = new Dictionary<string, long>();
        var deliveredShared = new Dictionary<string, long>();
        var delivering = new Dictionary<string, long>();
        var deliveringShared = new Dictionary<string, long>();
        var sinks = new Dictionary<string, Dictionary<string, long>>
        {
            ["ACK"] = acks, ["DELIVERED"] = delivered, ["DELIVERED-SHARED"] = deliveredShared, ["DELIVERING"] = delivering, ["DELIVERING-SHARED"] = deliveringShared,
        };
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lines.Add(line);
                all.Enqueue(line);
            }

            lines.CompleteAdding();
        });
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            var ackLines = 0;
            while (ackLines < ackTarget)
            {
                var left = deadline - DateTime.UtcNow;
                Assert.True(lines.TryTake(out var line, left > TimeSpan.Zero ? left : TimeSpan.Zero), $"writer made no progress before the deadline; stderr: {(stderr.IsCompleted ? stderr.Result : "")}");
                if (line is null)
                {
                    break;
                }

                ackLines += Apply(line, sinks);
            }
        }
        finally
        {
            process.Kill(entireProcessTree: true); // SIGKILL
            await process.WaitForExitAsync();
        }

        // Lines printed before the kill still count: they were printed only after their data was durable.
        await reader;
        foreach (var line in lines.GetConsumingEnumerable())
        {
            Apply(line, sinks);
        }

        _lastRun = all.ToList();
        return (acks, delivered, deliveredShared, delivering, deliveringShared);
    }

    private static int Apply(string line, Dictionary<string, Dictionary<string, long>> sinks)
    {
        var parts = line.Split(' ');
        if (parts.Length != 3 || !sinks.TryGetValue(parts[0], out var target))
        {
            return 0;
        }

        var offset = long.Parse(parts[2], CultureInfo.InvariantCulture);
        target[parts[1]] = Math.Max(target.GetValueOrDefault(parts[1], -1), offset);
        return parts[0] == "ACK" ? 1 : 0;
    }
}
