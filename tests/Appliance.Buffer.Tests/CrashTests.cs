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

    [Fact]
    public async Task SigKill_AtRandomPoints_RecoversEveryDurableRecordInOrderAndNothingElse()
    {
        var random = new Random(20261125);
        var lastAck = LaneNames.ToDictionary(l => l, _ => -1L);
        var lastDelivered = LaneNames.ToDictionary(l => l, _ => -1L);
        for (var kill = 0; kill < 20; kill++)
        {
            var ackTarget = random.Next(3, 120);
            var (acks, delivered) = await RunWriterUntilKilledAsync(random.Next(), ackTarget);
            foreach (var l in LaneNames)
            {
                lastAck[l] = Math.Max(lastAck[l], acks.GetValueOrDefault(l, -1));
                lastDelivered[l] = Math.Max(lastDelivered[l], delivered.GetValueOrDefault(l, -1));
            }

            await using var buffer = DurableBuffer.Open(WriterOptions(Dir));
            var resume = buffer.GetResumePoints();
            foreach (var l in LaneNames)
            {
                var entries = ReadAll(buffer.Lane(l)).Where(e => e.Record is not null).ToList();
                var offsets = entries.Select(e => e.Record!.Source.Offset).ToList();
                for (var i = 1; i < offsets.Count; i++)
                {
                    Assert.True(offsets[i] == offsets[i - 1] + 1, $"kill {kill}, lane {l}: offset {offsets[i]} (address {entries[i].Address}) follows {offsets[i - 1]} (address {entries[i - 1].Address}, next {entries[i - 1].NextAddress}) (a gap, duplicate or reorder); lane begin {buffer.Lane(l).BeginAddress}, committed {buffer.Lane(l).CommittedUntilAddress}, last durable ack {lastAck[l]}");
                }

                if (offsets.Count > 0)
                {
                    Assert.True(offsets[^1] >= lastAck[l], $"kill {kill}, lane {l}: durable record {lastAck[l]} lost; recovered up to {offsets[^1]}");
                    Assert.True(offsets[0] > lastDelivered[l], $"kill {kill}, lane {l}: delivered record {offsets[0]} came back (delivered up to {lastDelivered[l]})");
                    Assert.Equal(offsets[^1] + 1, resume[new SourcePartition(l, 0)]);
                }
                else
                {
                    Assert.True(lastDelivered[l] >= lastAck[l], $"kill {kill}, lane {l}: nothing recovered but record {lastAck[l]} was durable and not delivered");
                }

                output.WriteLine($"kill {kill}: lane {l} recovered {offsets.Count} records ({(offsets.Count > 0 ? $"{offsets[0]}..{offsets[^1]}" : "-")}), last durable ack {lastAck[l]}, last delivered {lastDelivered[l]}");
            }
        }
    }

    private static BufferOptions WriterOptions(string dir) => CrashWriter.CrashWriterOptions.For(dir);

    private async Task<(Dictionary<string, long> Acks, Dictionary<string, long> Delivered)> RunWriterUntilKilledAsync(int seed, int ackTarget)
    {
        var writer = Path.Combine(AppContext.BaseDirectory.Replace("Appliance.Buffer.Tests", "Appliance.Buffer.CrashWriter", StringComparison.Ordinal), "Appliance.Buffer.CrashWriter.dll");
        Assert.True(File.Exists(writer), $"crash writer not built: {writer}");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(writer);
        psi.ArgumentList.Add(Dir);
        psi.ArgumentList.Add(seed.ToString(CultureInfo.InvariantCulture));
        using var process = Process.Start(psi)!;
        var lines = new BlockingCollection<string>();
        var acks = new Dictionary<string, long>();
        var delivered = new Dictionary<string, long>();
        var reader = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is { } line)
            {
                lines.Add(line);
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
                Assert.True(lines.TryTake(out var line, deadline - DateTime.UtcNow), $"writer made no progress before the deadline; stderr: {(stderr.IsCompleted ? stderr.Result : "")}");
                if (line is null)
                {
                    break;
                }

                ackLines += Apply(line, acks, delivered);
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
            Apply(line, acks, delivered);
        }

        return (acks, delivered);
    }

    private static int Apply(string line, Dictionary<string, long> acks, Dictionary<string, long> delivered)
    {
        var parts = line.Split(' ');
        if (parts.Length != 3)
        {
            return 0;
        }

        var offset = long.Parse(parts[2], CultureInfo.InvariantCulture);
        var target = parts[0] switch { "ACK" => acks, "DELIVERED" => delivered, _ => null };
        if (target is null)
        {
            return 0;
        }

        target[parts[1]] = Math.Max(target.GetValueOrDefault(parts[1], -1), offset);
        return parts[0] == "ACK" ? 1 : 0;
    }
}
