using System.Text;
using Appliance.Core.Pipeline;
using Appliance.Core.Records;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline;

/// <summary>
/// Crash/rebuild of windowed routes: a run that crashes (the pipeline instance and its un-committed outputs are
/// dropped) and restarts from the last durable checkpoint must produce exactly the outputs of an uninterrupted
/// run: same records in the same order per partition, none twice, none missing.
/// </summary>
[Trait("Category", "Unit")]
public sealed class RecordPipelineRestartTests
{
    private static RouteOptions DownsampleRoute() => new()
    {
        Name = "telemetry",
        Sources = ["regex:sensors\\.[a-z]+"],
        Lane = "normal",
        LateLane = "bulk",
        Steps =
        [
            new StepOptions { Type = "filter", Expression = "value.v != 13" },
            new StepOptions { Type = "project", Keep = ["value.ts", "value.v"] },
            new StepOptions
            {
                Type = "downsample",
                Window = TimeSpan.FromSeconds(1),
                AllowedLateness = TimeSpan.FromMilliseconds(300),
                TimestampField = "value.ts",
                Fields = ["value.v"],
            },
        ],
    };

    private static RouteOptions DedupeRoute() => new()
    {
        Name = "events",
        Sources = ["regex:sensors\\.[a-z]+"],
        Lane = "normal",
        Steps =
        [
            new StepOptions { Type = "project", Keep = ["value.ts", "value.v"] },
            new StepOptions { Type = "dedupe", Window = TimeSpan.FromSeconds(1), AllowedLateness = TimeSpan.FromMilliseconds(200), TimestampField = "value.ts", IdField = "value.v" },
        ],
    };

    /// <summary>Two partitions, five keys, jittered and sometimes very late event times, ~2% poison records.</summary>
    private static List<EdgeRecord> Workload(int perPartition, int seed)
    {
        var rnd = new Random(seed);
        var records = new List<EdgeRecord>();
        var next = new long[2];
        var clock = new long[] { 1_700_000_000_000, 1_700_000_000_000 };
        for (var i = 0; i < perPartition * 2; i++)
        {
            var p = rnd.Next(2);
            if (next[p] >= perPartition)
            {
                p = 1 - p;
            }

            clock[p] += rnd.Next(0, 100);
            var ts = clock[p] + rnd.Next(-400, 400) - (rnd.Next(100) < 3 ? 5000 : 0);
            var key = "k" + rnd.Next(5);
            var json = rnd.Next(100) < 2
                ? """{"ts":"""
                : $$"""{"ts":{{ts}},"v":{{rnd.Next(0, 20)}},"noise":"{{new string('x', rnd.Next(0, 20))}}"}""";
            records.Add(Rec(json, key, offset: next[p]++, partition: p, topic: "sensors.hall", ts: ts));
        }

        return records;
    }

    private static string Describe(PipelineOutput o)
    {
        var headers = string.Join(",", o.Record.Headers.Select(h => h.Key + "=" + (h.Value is null ? "null" : Encoding.UTF8.GetString(h.Value))));
        return $"{o.Kind}|{o.Record.Source}|{o.Lane}|{o.Record.DestinationTopic}|{o.KeyText()}|{o.Record.TimestampMs}|{o.ValueText()}|{headers}|{o.DeadLetter}";
    }

    private static Dictionary<int, List<string>> ByPartition(IEnumerable<PipelineOutput> outputs) =>
        outputs.GroupBy(o => o.Record.Source.Partition).ToDictionary(g => g.Key, g => g.Select(Describe).ToList());

    private static List<PipelineOutput> Uninterrupted(RouteOptions route, List<EdgeRecord> records)
    {
        var p = Build(route);
        var outs = new List<PipelineOutput>();
        foreach (var r in records)
        {
            p.Process(r, outs);
        }

        return outs;
    }

    /// <summary>
    /// Runs the workload like the forwarder would: every <paramref name="batch"/> input records the outputs become
    /// durable (the resume point per partition is one past the highest source offset among them), and only
    /// then, on every <paramref name="checkpointEvery"/>-th commit, the per-partition checkpoints are persisted (so
    /// they may lag behind the buffer). At each crash point the pipeline and the pending outputs are lost; a new
    /// pipeline is restored from the buffer's resume points and the persisted checkpoints, and re-reads each
    /// partition from where <see cref="RecordPipeline.Restore"/> says.
    /// </summary>
    private static List<PipelineOutput> WithCrashes(RouteOptions route, List<EdgeRecord> records, int batch, int checkpointEvery, params int[] crashAfter)
    {
        var durable = new List<PipelineOutput>();
        var bufferResume = new Dictionary<SourcePartition, long>();
        var stored = new Dictionary<SourcePartition, PipelineCheckpoint>();
        var crashes = new Queue<int>(crashAfter);
        var commits = 0;
        while (true)
        {
            var p = Build(route);
            var seek = new Dictionary<SourcePartition, long>();
            foreach (var tp in bufferResume.Keys.Union(stored.Keys))
            {
                if (p.Restore(tp, bufferResume.TryGetValue(tp, out var r) ? r : null, stored.GetValueOrDefault(tp)) is { } from)
                {
                    seek[tp] = from;
                }
            }

            var pending = new List<PipelineOutput>();
            var processed = 0;
            var crashed = false;
            foreach (var r in records)
            {
                if (r.Source.Offset < seek.GetValueOrDefault(r.Source.SourcePartition))
                {
                    continue;
                }

                p.Process(r, pending);
                processed++;
                if (processed % batch == 0)
                {
                    Commit();
                }

                if (crashes.Count > 0 && processed == crashes.Peek())
                {
                    crashes.Dequeue();
                    crashed = true;
                    break;
                }
            }

            if (!crashed)
            {
                Commit();
                return durable;
            }

            void Commit()
            {
                durable.AddRange(pending);
                // Dead letters count too: the forwarder produces them to the local dead-letter topic and then marks
                // their positions as taken, as the buffer does for records it drops.
                foreach (var o in pending)
                {
                    var tp = o.Record.Source.SourcePartition;
                    bufferResume[tp] = Math.Max(bufferResume.GetValueOrDefault(tp), o.Record.Source.Offset + 1);
                }

                pending.Clear();
                if (++commits % checkpointEvery != 0)
                {
                    return;
                }

                foreach (var part in new[] { 0, 1 })
                {
                    var tp = new SourcePartition("sensors.hall", part);
                    if (p.GetCheckpoint(tp) is { } checkpoint)
                    {
                        stored[tp] = checkpoint;
                    }
                }
            }
        }
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 1)]
    [InlineData(64, 1)]
    [InlineData(5, 3)]      // checkpoints persisted on every third commit only: they lag behind the buffer
    [InlineData(4, 1000)]   // no checkpoint ever persisted: full replay from offset 0
    public void Restore_DownsampleCrashAtEveryPoint_OutputEqualsUninterruptedRun(int batch, int checkpointEvery)
    {
        var records = Workload(150, seed: 42);
        var expected = Uninterrupted(DownsampleRoute(), records);

        // The workload must exercise every output kind, or the comparison proves little.
        Assert.Contains(expected, o => o.Kind == PipelineOutputKind.Aggregate);
        Assert.Contains(expected, o => o.Kind == PipelineOutputKind.Late);
        Assert.Contains(expected, o => o.Kind == PipelineOutputKind.DeadLetter);

        var expectedByPartition = ByPartition(expected);
        for (var crash = 1; crash < records.Count; crash += 5)
        {
            var actual = WithCrashes(DownsampleRoute(), records, batch, checkpointEvery, crash);
            Assert.True(
                expectedByPartition.Keys.Order().SequenceEqual(ByPartition(actual).Keys.Order()),
                $"partitions differ after a crash at {crash}");
            foreach (var (part, list) in ByPartition(actual))
            {
                Assert.True(expectedByPartition[part].SequenceEqual(list), $"partition {part} differs after a crash at {crash} (batch {batch}, checkpoint every {checkpointEvery})");
            }

            var windowIds = actual.Where(o => o.Kind == PipelineOutputKind.Aggregate).Select(o => o.Header(PipelineHeaders.WindowId)).ToList();
            Assert.Equal(windowIds.Count, windowIds.Distinct().Count());
        }
    }

    [Fact]
    public void Restore_DownsampleSeveralCrashes_OutputEqualsUninterruptedRun()
    {
        var records = Workload(200, seed: 7);
        var expected = ByPartition(Uninterrupted(DownsampleRoute(), records));
        var actual = ByPartition(WithCrashes(DownsampleRoute(), records, 5, 2, 33, 1, 90, 12, 150));
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (part, list) in expected)
        {
            Assert.Equal(list, actual[part]);
        }
    }

    [Fact]
    public void Restore_DedupeCrashAtEveryPoint_OutputEqualsUninterruptedRun()
    {
        var records = Workload(120, seed: 3);
        var expected = ByPartition(Uninterrupted(DedupeRoute(), records));
        for (var crash = 1; crash < records.Count; crash += 7)
        {
            var actual = ByPartition(WithCrashes(DedupeRoute(), records, 3, 2, crash));
            foreach (var (part, list) in expected)
            {
                Assert.True(list.SequenceEqual(actual[part]), $"partition {part} differs after a crash at {crash}");
            }
        }
    }

    [Fact]
    public void Restore_OpenWindowAcrossCrash_ReplaysFromItsFirstOffsetAndEmitsItOnce()
    {
        var route = new RouteOptions
        {
            Name = "r",
            Sources = ["t"],
            Lane = "normal",
            Steps = [new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10), Fields = ["value.v"] }],
        };
        var tp = new SourcePartition("t", 0);
        var before = Build(route);
        before.Process(Rec("""{"v":1}""", "a", offset: 0, ts: 1));
        before.Process(Rec("""{"v":2}""", "b", offset: 1, ts: 2));
        Assert.Equal(2, before.Process(Rec("""{"v":3}""", "b", offset: 2, ts: 11)).Count);  // closes a@[0,10) and b@[0,10)
        before.Process(Rec("""{"v":4}""", "a", offset: 3, ts: 12));
        var checkpoint = before.GetCheckpoint(tp)!;
        Assert.Equal(new PipelineCheckpoint(tp, 4, 2, 2), checkpoint);
        Assert.Equal("v1|t|0|4|2|2", checkpoint.ToString());

        // Crash: a new instance re-reads from offset 2 (the open window [10,20) started there), not from 4.
        var after = Build(route);
        Assert.Equal(2, after.Restore(tp, 4, PipelineCheckpoint.Parse(checkpoint.ToString())));
        Assert.Empty(after.Process(Rec("""{"v":3}""", "b", offset: 2, ts: 11)));
        Assert.Empty(after.Process(Rec("""{"v":4}""", "a", offset: 3, ts: 12)));
        var outs = after.Process(Rec("""{"v":5}""", "a", offset: 4, ts: 25));
        // Windows closing together come out by end, then first offset: b (from offset 2), then a (from 3).
        Assert.Equal(["t/0/62/10", "t/0/61/10"], outs.Select(o => o.Header(PipelineHeaders.WindowId)));
        Assert.Equal(["t/0/2-2", "t/0/3-3"], outs.Select(o => o.Header(PipelineHeaders.SourceRanges)));
        Assert.Equal(2, after.Counters.Routes["r"].Replayed);
    }

    [Fact]
    public void GetCheckpoint_WhileReplaying_ReturnsTheRestoredCheckpoint()
    {
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10) });
        var restored = new PipelineCheckpoint(new SourcePartition("t", 0), 10, 4, 3);
        Assert.Equal(4, p.Restore(restored.Partition, 8, restored));
        p.Process(Rec("{}", offset: 4, ts: 5));
        Assert.Same(restored, p.GetCheckpoint(restored.Partition));
        p.Process(Rec("{}", offset: 10, ts: 6));
        Assert.Equal(new PipelineCheckpoint(restored.Partition, 11, 4, 3), p.GetCheckpoint(restored.Partition));
    }

    [Fact]
    public void Restore_RouteWithoutWindows_ResumesAtNextOffsetAndEmitsNothingTwice()
    {
        var p = Build(new StepOptions { Type = "filter", Expression = "true" });
        var tp = new SourcePartition("t", 0);
        Assert.Equal(17, p.Restore(tp, 17, null));
        Assert.Single(p.Process(Rec("{}", offset: 17)));
        Assert.Equal(new PipelineCheckpoint(tp, 18, null, null), p.GetCheckpoint(tp));
        Assert.Null(Build(new StepOptions { Type = "filter", Expression = "true" }).Restore(tp, null, null));
    }

    [Fact]
    public void Restore_BufferAheadOfCheckpoint_DiscardsOutputsUpToTheBufferResumePoint()
    {
        // The checkpoint was taken after offset 3, but outputs up to offset 5 are durable in the buffer.
        var p = Build(new StepOptions { Type = "downsample", Window = TimeSpan.FromMilliseconds(10) });
        var tp = new SourcePartition("t", 0);
        Assert.Equal(2, p.Restore(tp, 6, new PipelineCheckpoint(tp, 4, 2, 0)));
        Assert.Empty(p.Process(Rec("{}", offset: 2, ts: 1)));
        Assert.Empty(p.Process(Rec("{}", offset: 5, ts: 10)));   // closes [0,10): emitted before the crash, discarded
        Assert.Equal(new PipelineCheckpoint(tp, 4, 2, 0), p.GetCheckpoint(tp));
        var o = Assert.Single(p.Process(Rec("{}", offset: 6, ts: 20)));   // closes [10,20): new
        Assert.Equal("t/0/5-5", o.Header(PipelineHeaders.SourceRanges));
        Assert.Equal(new PipelineCheckpoint(tp, 7, 6, 10), p.GetCheckpoint(tp));
    }
}
