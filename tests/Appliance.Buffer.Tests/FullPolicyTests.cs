using Microsoft.Extensions.Time.Testing;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class FullPolicyTests : BufferTestBase
{
    // Entry size on disk for Rec(i, valueBytes: 1000): used to fill lanes to an exact count.
    private const int ValueBytes = 1000;

    private static async Task<int> FillUntilNotAcceptedAsync(BufferLane lane, long startOffset, int max = 100_000)
    {
        for (var i = 0; i < max; i++)
        {
            var r = await lane.AppendAsync(Rec(startOffset + i, valueBytes: ValueBytes));
            if (r.Status != AppendStatus.Accepted)
            {
                return i;
            }
        }

        throw new InvalidOperationException("lane never filled");
    }

    [Fact]
    public async Task DropNewest_LaneFull_DropsExactlyTheNewRecordsAndRecordsTheirRange()
    {
        var options = Options(Dir, Lane("critical"), Lane("bulk", quota: 4L << 20, policy: FullPolicy.DropNewest));
        int accepted;
        await using (var buffer = DurableBuffer.Open(options))
        {
            var lane = buffer.Lane("bulk");
            accepted = await FillUntilNotAcceptedAsync(lane, 0);
            // The record that failed was dropped; drop 49 more.
            for (var i = accepted + 1; i < accepted + 50; i++)
            {
                Assert.Equal(AppendStatus.Dropped, (await lane.AppendAsync(Rec(i, valueBytes: ValueBytes))).Status);
            }

            await buffer.WhenDurableAsync();
            Assert.Equal(50, lane.GetStats().DroppedRecords[DropReason.DropNewest]);
            var entries = ReadAll(lane);
            Assert.Equal(Enumerable.Range(0, accepted).Select(i => (long)i), entries.Where(e => e.Record is not null).Select(e => e.Record!.Source.Offset));
            var gaps = entries.Where(e => e.Gap is not null).Select(e => e.Gap!).ToList();
            Assert.All(gaps, g => Assert.Equal(DropReason.DropNewest, g.Reason));
            Assert.All(gaps, g => Assert.Equal("bulk", g.Lane));
            Assert.Equal([new GapRange("sensors", 0, accepted, accepted + 49, 50)], MergeRanges(gaps));
        }

        // Counters and the marker are durable, and dropped positions count as taken: ingest resumes after them.
        await using var reopened = DurableBuffer.Open(options);
        Assert.Equal(accepted + 50, reopened.GetResumePoints()[new Core.Records.SourcePartition("sensors", 0)]);
        Assert.Equal(50, reopened.Lane("bulk").GetStats().DroppedRecords[DropReason.DropNewest]);
        Assert.Equal(50, ReadAll(reopened.Lane("bulk")).Where(e => e.Gap is not null).Sum(e => e.Gap!.Count));
    }

    /// <summary>Joins the ranges of several markers where offsets continue (markers may be split by commits).</summary>
    private static List<GapRange> MergeRanges(IEnumerable<GapMarker> gaps)
    {
        var merged = new List<GapRange>();
        foreach (var r in gaps.SelectMany(g => g.Ranges).OrderBy(r => r.Topic, StringComparer.Ordinal).ThenBy(r => r.Partition).ThenBy(r => r.FirstOffset))
        {
            if (merged.Count > 0 && merged[^1].Topic == r.Topic && merged[^1].Partition == r.Partition && merged[^1].LastOffset + 1 == r.FirstOffset)
            {
                merged[^1] = merged[^1] with { LastOffset = r.LastOffset, Count = merged[^1].Count + r.Count };
            }
            else
            {
                merged.Add(r);
            }
        }

        return merged;
    }

    [Fact]
    public async Task DropOldest_LaneFull_EvictsExactlyTheOldestAndKeepsTheNewest()
    {
        var options = Options(Dir, Lane("critical"), Lane("bulk", quota: 4L << 20, policy: FullPolicy.DropOldest));
        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("bulk");
        const int total = 8000;
        for (var i = 0; i < total; i++)
        {
            var st = (await lane.AppendAsync(Rec(i, valueBytes: ValueBytes))).Status;
            Assert.True(st == AppendStatus.Accepted, $"record {i}: {st}; begin {lane.BeginAddress} committed {lane.CommittedUntilAddress} tail {lane.TailAddress} bytes {lane.BufferedBytes}");
        }

        await buffer.WhenDurableAsync();
        var entries = ReadAll(lane);
        var kept = entries.Where(e => e.Record is not null).Select(e => e.Record!.Source.Offset).ToList();
        var gaps = entries.Where(e => e.Gap is not null).Select(e => e.Gap!).ToList();
        var dropped = lane.GetStats().DroppedRecords[DropReason.DropOldest];
        Assert.True(dropped > 0);
        Assert.True(total == kept.Count + dropped, $"kept {kept.Count} + dropped {dropped} != {total}; first kept {kept.FirstOrDefault()} last {kept.LastOrDefault()}; gaps {gaps.Count} covering {gaps.Sum(g => g.Count)}");
        // The survivors are exactly the newest records, contiguous, ending at the last one.
        Assert.Equal(Enumerable.Range((int)dropped, total - (int)dropped).Select(i => (long)i), kept);
        // Gap markers cover exactly offsets 0..dropped-1, once each.
        var covered = gaps.SelectMany(g => g.Ranges).OrderBy(r => r.FirstOffset).ToList();
        Assert.All(gaps, g => Assert.Equal(DropReason.DropOldest, g.Reason));
        Assert.Equal(dropped, covered.Sum(r => r.Count));
        Assert.Equal(0, covered[0].FirstOffset);
        Assert.Equal(dropped - 1, covered[^1].LastOffset);
        for (var i = 1; i < covered.Count; i++)
        {
            Assert.Equal(covered[i - 1].LastOffset + 1, covered[i].FirstOffset);
        }

        // Gap markers are never refused, so they may overshoot the quota by a few KiB.
        Assert.True(lane.BufferedBytes <= (4L << 20) + (64 << 10), $"lane holds {lane.BufferedBytes} bytes");
    }

    [Fact]
    public async Task Block_LaneFull_RefusesWithoutLossAndAcceptsAgainAfterDelivery()
    {
        var options = Options(Dir, Lane("critical"), Lane("bulk", quota: 4L << 20, policy: FullPolicy.Block));
        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("bulk");
        var accepted = await FillUntilNotAcceptedAsync(lane, 0);
        Assert.Equal(AppendStatus.Blocked, (await lane.AppendAsync(Rec(accepted, valueBytes: ValueBytes))).Status);
        await buffer.WhenDurableAsync();
        var space = lane.WaitForSpaceAsync();
        Assert.False(space.IsCompleted);
        var batch = lane.Reader.Read(100, long.MaxValue)!;
        await using (var lease = await lane.Reader.BeginDeliveryAsync(batch))
        {
            await lease!.CompleteAsync();
        }

        await space.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(AppendStatus.Accepted, (await lane.AppendAsync(Rec(accepted, valueBytes: ValueBytes))).Status);
        Assert.Equal(0, lane.GetStats().DroppedRecords.Values.Sum());
    }

    [Fact]
    public async Task TotalBudget_TopLaneNeedsRoom_EvictsLowerDropOldestLaneButNeverTheTopLane()
    {
        var options = Options(
            Dir,
            Lane("critical", quota: 8L << 20, policy: FullPolicy.DropOldest),
            Lane("bulk", quota: 8L << 20, policy: FullPolicy.DropOldest));
        options.TotalBudgetBytes = 10L << 20;
        await using var buffer = DurableBuffer.Open(options);
        for (var i = 0; i < 7000; i++)
        {
            Assert.Equal(AppendStatus.Accepted, (await buffer.Lane("bulk").AppendAsync(Rec(i, topic: "bulk", valueBytes: ValueBytes))).Status);
        }

        // The critical lane fills its quota; the budget is taken back from bulk, never from critical.
        for (var i = 0; i < 7500; i++)
        {
            Assert.Equal(AppendStatus.Accepted, (await buffer.Lane("critical").AppendAsync(Rec(i, topic: "critical", valueBytes: ValueBytes))).Status);
        }

        await buffer.WhenDurableAsync();
        var critical = buffer.Lane("critical").GetStats();
        var bulk = buffer.Lane("bulk").GetStats();
        Assert.True(bulk.DroppedRecords[DropReason.PriorityEviction] > 0);
        Assert.True(critical.BufferedBytes + bulk.BufferedBytes <= options.TotalBudgetBytes + (64 << 10));
        // Critical only ever loses records to its own quota (drop-oldest of itself), never to priority eviction.
        Assert.Equal(0, critical.DroppedRecords[DropReason.PriorityEviction]);
        Assert.Equal(0, bulk.DroppedRecords[DropReason.DropOldest]);

        // Now bulk appends while the budget is full: it must evict itself, not critical.
        var criticalBefore = buffer.Lane("critical").GetStats();
        for (var i = 7000; i < 9000; i++)
        {
            await buffer.Lane("bulk").AppendAsync(Rec(i, topic: "bulk", valueBytes: ValueBytes));
        }

        await buffer.WhenDurableAsync();
        var criticalAfter = buffer.Lane("critical").GetStats();
        Assert.Equal(criticalBefore.BufferedRecords, criticalAfter.BufferedRecords);
        Assert.Equal(criticalBefore.DroppedRecords[DropReason.DropOldest], criticalAfter.DroppedRecords[DropReason.DropOldest]);
        Assert.Equal(0, criticalAfter.DroppedRecords[DropReason.PriorityEviction]);
    }

    [Fact]
    public async Task Ttl_RecordsOlderThanTtl_AreDroppedWithExactRanges()
    {
        var time = new FakeTimeProvider(DateTimeOffset.Parse("2026-11-25T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = Options(Dir, Lane("critical"), Lane("bulk", policy: FullPolicy.Block, ttl: TimeSpan.FromMinutes(10)));
        options.MaintenanceInterval = TimeSpan.FromHours(1);
        await using var buffer = DurableBuffer.Open(options, time: time);
        var lane = buffer.Lane("bulk");
        for (var i = 0; i < 30; i++)
        {
            await lane.AppendAsync(Rec(i));
        }

        time.Advance(TimeSpan.FromMinutes(6));
        for (var i = 30; i < 50; i++)
        {
            await lane.AppendAsync(Rec(i));
        }

        await buffer.WhenDurableAsync();
        time.Advance(TimeSpan.FromMinutes(5)); // first 30 are now 11 min old, the rest 5 min
        await buffer.RunMaintenanceAsync();
        await buffer.WhenDurableAsync();

        var entries = ReadAll(lane);
        Assert.Equal(Enumerable.Range(30, 20).Select(i => (long)i), entries.Where(e => e.Record is not null).Select(e => e.Record!.Source.Offset));
        var gaps = entries.Where(e => e.Gap is not null).Select(e => e.Gap!).ToList();
        Assert.All(gaps, g => Assert.Equal(DropReason.Ttl, g.Reason));
        Assert.Equal([new GapRange("sensors", 0, 0, 29, 30)], MergeRanges(gaps));
        Assert.Equal(30, lane.GetStats().DroppedRecords[DropReason.Ttl]);
    }

    [Fact]
    public async Task DropOldest_BatchReadBeforeEviction_CannotBeDeliveredAfterwards()
    {
        var options = Options(Dir, Lane("critical"), Lane("bulk", quota: 4L << 20, policy: FullPolicy.DropOldest));
        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("bulk");
        for (var i = 0; i < 3000; i++)
        {
            await lane.AppendAsync(Rec(i, valueBytes: ValueBytes));
        }

        await buffer.WhenDurableAsync();
        var stale = lane.Reader.Read(10, long.MaxValue)!;
        for (var i = 3000; i < 6000; i++)
        {
            await lane.AppendAsync(Rec(i, valueBytes: ValueBytes));
        }

        Assert.True(lane.GetStats().DroppedRecords[DropReason.DropOldest] >= 10);
        Assert.Null(await lane.Reader.BeginDeliveryAsync(stale));
        var fresh = lane.Reader.Read(10, long.MaxValue)!;
        Assert.True(fresh.Entries[0].Address >= lane.BeginAddress);
        await using var lease = await lane.Reader.BeginDeliveryAsync(fresh);
        Assert.NotNull(lease);
    }
}
