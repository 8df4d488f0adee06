using Appliance.Core.Records;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class DurableBufferTests : BufferTestBase
{
    [Fact]
    public async Task Append_CommitDisposeReopen_ReturnsExactlyTheCommittedRecordsInOrder()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            for (var i = 0; i < 5000; i++)
            {
                var r = await buffer.Lane("critical").AppendAsync(Rec(i));
                Assert.Equal(AppendStatus.Accepted, r.Status);
            }

            await buffer.WhenDurableAsync();
        }

        await using var reopened = DurableBuffer.Open(options);
        var entries = ReadAll(reopened.Lane("critical"));
        Assert.Equal(5000, entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var r = entries[i].Record!;
            Assert.Equal(new SourcePosition("sensors", 0, i), r.Source);
            Assert.Equal(1_700_000_000_000 + i, r.TimestampMs);
            Assert.Equal(Rec(i).Value, r.Value);
            Assert.Equal(i % 2 == 0 ? null : "dest", r.DestinationTopic);
            Assert.Equal(2, r.Headers.Count);
            Assert.Equal([1, 2, 3], r.Headers[0].Value);
            Assert.Null(r.Headers[1].Value);
        }

        Assert.Empty(ReadAll(reopened.Lane("bulk")));
    }

    [Fact]
    public async Task Append_InterleavedLanes_EachLaneKeepsItsOwnOrder()
    {
        await using var buffer = DurableBuffer.Open(Options(Dir));
        for (var i = 0; i < 1000; i++)
        {
            await buffer.Lane(i % 3 == 0 ? "critical" : "bulk").AppendAsync(Rec(i, topic: i % 3 == 0 ? "alarms" : "metrics"));
        }

        await buffer.WhenDurableAsync();
        var critical = ReadAll(buffer.Lane("critical")).Select(e => e.Record!.Source.Offset).ToList();
        var bulk = ReadAll(buffer.Lane("bulk")).Select(e => e.Record!.Source.Offset).ToList();
        Assert.Equal(Enumerable.Range(0, 1000).Where(i => i % 3 == 0).Select(i => (long)i), critical);
        Assert.Equal(Enumerable.Range(0, 1000).Where(i => i % 3 != 0).Select(i => (long)i), bulk);
    }

    [Fact]
    public async Task Read_BeforeCommit_HandsOutOnlyDurableEntries()
    {
        var options = Options(Dir);
        options.CommitIntervalMs = 10_000;
        options.CommitBytes = 1L << 30;
        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("critical");
        await lane.AppendAsync(Rec(0));
        Assert.Null(lane.Reader.Read(10, long.MaxValue));
        await buffer.CommitNowAsync();
        var batch = lane.Reader.Read(10, long.MaxValue);
        Assert.NotNull(batch);
        Assert.Single(batch.Entries);
    }

    [Fact]
    public async Task ResumePoints_AfterRestart_AreOnePastTheHighestDurableOffsetPerPartition()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await buffer.Lane("critical").AppendAsync(Rec(41, topic: "alarms", partition: 1));
            await buffer.Lane("critical").AppendAsync(Rec(7, topic: "alarms", partition: 0));
            await buffer.Lane("bulk").AppendAsync(Rec(99, topic: "metrics", partition: 3));
            await buffer.Lane("bulk").AppendAsync(Rec(100, topic: "metrics", partition: 3));
            await buffer.WhenDurableAsync();
            await DeliverAllAsync(buffer.Lane("bulk"));
            await buffer.WhenDurableAsync();
        }

        await using var reopened = DurableBuffer.Open(options);
        var resume = reopened.GetResumePoints();
        Assert.Equal(3, resume.Count);
        Assert.Equal(42, resume[new SourcePartition("alarms", 1)]);
        Assert.Equal(8, resume[new SourcePartition("alarms", 0)]);
        Assert.Equal(101, resume[new SourcePartition("metrics", 3)]);
        Assert.Empty(ReadAll(reopened.Lane("bulk")));
        Assert.Equal(2, ReadAll(reopened.Lane("critical")).Count);
    }

    [Fact]
    public async Task Deliver_ManySegments_TruncatesAndReclaimsDisk()
    {
        // Two spare segment files kept: what remains after delivery is them and the tail segment (1 MiB each).
        var options = Options(Dir);
        options.SpareSegments = 2;
        await using var buffer = DurableBuffer.Open(options);
        var lane = buffer.Lane("bulk");
        for (var i = 0; i < 10_000; i++)
        {
            await lane.AppendAsync(Rec(i, valueBytes: 1000));
        }

        await buffer.WhenDurableAsync();
        var before = DirectoryBytes(Dir);
        Assert.True(before > 9_000_000, $"expected ~10 MB on disk before delivery, found {before}");
        await DeliverAllAsync(lane);
        await buffer.CommitNowAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (DirectoryBytes(Dir) > 3L << 20 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        var after = DirectoryBytes(Dir);
        Assert.True(after <= 3L << 20, $"delivered data was not reclaimed: {before} bytes before, {after} after");
        Assert.Equal(0, lane.GetStats().BufferedRecords);
    }

    [Fact]
    public async Task Deliver_AfterRestart_DeliveredPrefixStaysDelivered()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            var lane = buffer.Lane("critical");
            for (var i = 0; i < 100; i++)
            {
                await lane.AppendAsync(Rec(i));
            }

            await buffer.WhenDurableAsync();
            var batch = lane.Reader.Read(40, long.MaxValue)!;
            await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
            await lease!.CompleteAsync();
            await buffer.WhenDurableAsync();
        }

        await using var reopened = DurableBuffer.Open(options);
        var offsets = ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset).ToList();
        Assert.Equal(Enumerable.Range(40, 60).Select(i => (long)i), offsets);
        Assert.Equal(60, reopened.Lane("critical").GetStats().BufferedRecords);
    }

    [Fact]
    public async Task Lease_AbandonedDelivery_RewindsAndRedeliversTheSameRecords()
    {
        await using var buffer = DurableBuffer.Open(Options(Dir));
        var lane = buffer.Lane("critical");
        for (var i = 0; i < 10; i++)
        {
            await lane.AppendAsync(Rec(i));
        }

        await buffer.WhenDurableAsync();
        var first = lane.Reader.Read(5, long.MaxValue)!;
        var firstAddresses = first.Entries.Select(e => e.Address).ToList();
        await using (var lease = await lane.Reader.BeginDeliveryAsync(first))
        {
            Assert.NotNull(lease);
        }

        // The abandoned batch gave its buffer back: its entries are gone, its counts stay.
        Assert.Throws<ObjectDisposedException>(() => first.Entries[0]);
        Assert.Equal(5, first.RecordCount);
        var again = lane.Reader.Read(5, long.MaxValue)!;
        Assert.Equal(firstAddresses, again.Entries.Select(e => e.Address));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i), again.Entries.Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Read_NextBatchReusesTheBuffer_EntriesDecodedEarlierKeepTheirBytes()
    {
        await using var buffer = DurableBuffer.Open(Options(Dir));
        var lane = buffer.Lane("bulk");
        for (var i = 0; i < 20; i++)
        {
            await lane.AppendAsync(Rec(i));
        }

        await buffer.WhenDurableAsync();
        var first = lane.Reader.Read(10, long.MaxValue)!;
        var decoded = first.Entries.Select(e => e.Record!).ToList();
        await using (var lease = await lane.Reader.BeginDeliveryAsync(first))
        {
            await lease!.CompleteAsync();
        }

        // The second batch is read into the first one's buffer; the records decoded from the first own their arrays.
        var second = lane.Reader.Read(10, long.MaxValue)!;
        Assert.Equal(Enumerable.Range(10, 10).Select(i => (long)i), second.Entries.Select(e => e.Record!.Source.Offset));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal(Rec(i).Value, decoded[i].Value);
            Assert.Equal(i, decoded[i].Source.Offset);
        }
    }

    [Fact]
    public async Task TryReadRecord_InPlaceView_MatchesTheDecodedRecord()
    {
        await using var buffer = DurableBuffer.Open(Options(Dir));
        var lane = buffer.Lane("bulk");
        var records = new[]
        {
            Rec(0, key: "k0"),
            new EdgeRecord(new SourcePosition("sensors", 1, 1), 5, null, null),
            new EdgeRecord(new SourcePosition("sensors", 2, 2), 6, [], [], [new RecordHeader("empty", []), new RecordHeader("ünï", [9])], "dest-ü"),
            Rec(3, valueBytes: 5000),
        };
        foreach (var r in records)
        {
            await lane.AppendAsync(r);
        }

        await buffer.WhenDurableAsync();
        var batch = lane.Reader.Read(10, long.MaxValue)!;
        Assert.Equal(records.Length, batch.Entries.Count);
        for (var i = 0; i < records.Length; i++)
        {
            var decoded = batch.Entries[i].Record!;
            Assert.True(batch.TryReadRecord(i, out var view));
            Assert.Equal(decoded.Source, new SourcePosition(view.SourceTopic, view.Partition, view.Offset));
            Assert.Equal(decoded.TimestampMs, view.TimestampMs);
            Assert.Equal(decoded.DestinationTopic, view.DestinationTopic);
            Assert.Equal(decoded.Key is null, view.KeyIsNull);
            Assert.Equal(decoded.Key ?? [], view.Key.ToArray());
            Assert.Equal(decoded.Value is null, view.ValueIsNull);
            Assert.Equal(decoded.Value ?? [], view.Value.ToArray());
            Assert.Equal(decoded.Headers.Count, view.HeaderCount);
            Assert.Equal(decoded.Headers.Select(h => (h.Key, h.Value)), view.ReadHeaders().Select(h => (h.Key, h.Value)));
        }

        // Null and empty stay apart in the view too.
        Assert.True(batch.TryReadRecord(1, out var nulls) && nulls.KeyIsNull && nulls.ValueIsNull);
        Assert.True(batch.TryReadRecord(2, out var empties) && !empties.KeyIsNull && !empties.ValueIsNull && empties.Key.IsEmpty);
        await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
        await lease!.CompleteAsync();
        Assert.Throws<ObjectDisposedException>(() => batch.TryReadRecord(0, out _));
    }

    [Fact]
    public async Task TryAppend_FromSpans_StoresWhatAppendAsyncStores_AndAnswersReplaysAfterReopen()
    {
        var options = Options(Dir);
        var records = new[]
        {
            Rec(0, key: "k0"),
            new EdgeRecord(new SourcePosition("sensors", 0, 1), 5, null, null),
            new EdgeRecord(new SourcePosition("sensors", 0, 2), 6, [], [], [new RecordHeader("empty", []), new RecordHeader("ünï", [9])], "dest-ü"),
        };
        await using (var buffer = DurableBuffer.Open(options))
        {
            var lane = buffer.Lane("bulk");
            foreach (var r in records)
            {
                Assert.True(lane.TryAppend(r.Source, r.TimestampMs, r.Key, r.Key is null, r.Value, r.Value is null, r.Headers, r.DestinationTopic, out var result));
                Assert.Equal(AppendStatus.Accepted, result.Status);
            }

            await buffer.WhenDurableAsync();
            var read = ReadAll(lane).Select(e => e.Record!).ToList();
            Assert.Equal(records.Length, read.Count);
            for (var i = 0; i < records.Length; i++)
            {
                Assert.Equal(records[i].Source, read[i].Source);
                Assert.Equal(records[i].TimestampMs, read[i].TimestampMs);
                Assert.Equal(records[i].Key, read[i].Key);
                Assert.Equal(records[i].Value, read[i].Value);
                Assert.Equal(records[i].DestinationTopic, read[i].DestinationTopic);
                Assert.Equal(records[i].Headers.Select(h => (h.Key, h.Value)), read[i].Headers.Select(h => (h.Key, h.Value)));
            }
        }

        // The positions are durable like any append: re-reading the same offsets after a restart is answered, not stored twice.
        await using var reopened = DurableBuffer.Open(options);
        var again = reopened.Lane("bulk");
        Assert.True(again.TryAppend(records[1].Source, 5, default, true, default, true, [], null, out var replay));
        Assert.Equal(AppendStatus.AlreadyBuffered, replay.Status);
        await reopened.WhenDurableAsync();
        Assert.Equal(records.Length, ReadAll(again).Count);
    }

    [Fact]
    public async Task TryAppend_LaneFull_AppendsNothingAndLeavesThePolicyToAppendAsync()
    {
        await using var buffer = DurableBuffer.Open(Options(Dir, Lane("critical"), Lane("bulk", quota: 4L << 20, policy: FullPolicy.DropNewest)));
        var lane = buffer.Lane("bulk");
        var value = new byte[4000];
        var offset = 0;
        while ((await lane.AppendAsync(new EdgeRecord(new SourcePosition("sensors", 0, offset), 1, null, value))).Status == AppendStatus.Accepted)
        {
            offset++;
            Assert.True(offset < 10_000, "the lane never filled");
        }

        // The lane is full (one record dropped by the policy). TryAppend refuses without a drop: nothing stored,
        // nothing counted; applying the policy is AppendAsync's.
        var buffered = lane.GetStats().BufferedRecords;
        Assert.Equal(1, lane.GetStats().DroppedRecords[DropReason.DropNewest]);
        Assert.False(lane.TryAppend(new SourcePosition("sensors", 0, offset + 1), 1, default, true, value, false, [], null, out _));
        Assert.Equal(buffered, lane.GetStats().BufferedRecords);
        Assert.Equal(1, lane.GetStats().DroppedRecords[DropReason.DropNewest]);
        Assert.Equal(AppendStatus.Dropped, (await lane.AppendAsync(new EdgeRecord(new SourcePosition("sensors", 0, offset + 1), 1, null, value))).Status);
        Assert.Equal(2, lane.GetStats().DroppedRecords[DropReason.DropNewest]);
    }

    [Fact]
    public async Task Read_BatchLargerThanItsFirstBuffer_DecodesEveryEntryIntact()
    {
        // 40 records of 60 KB (the test lanes' pages are 64 KiB): one batch outgrows the reader's first 1 MiB buffer twice.
        await using var buffer = DurableBuffer.Open(Options(Dir));
        var lane = buffer.Lane("bulk");
        for (var i = 0; i < 40; i++)
        {
            await lane.AppendAsync(Rec(i, valueBytes: 60_000));
        }

        await buffer.WhenDurableAsync();
        var batch = lane.Reader.Read(100, long.MaxValue)!;
        Assert.Equal(40, batch.Entries.Count);
        Assert.True(batch.PayloadBytes > 2_400_000, $"payload {batch.PayloadBytes}");
        for (var i = 0; i < 40; i++)
        {
            var expected = Rec(i, valueBytes: 60_000);
            var rec = batch.Entries[i].Record!;
            Assert.Equal(expected.Source, rec.Source);
            Assert.Equal(expected.Value, rec.Value);
            Assert.Equal(expected.DestinationTopic, rec.DestinationTopic);
        }

        await using var lease = await lane.Reader.BeginDeliveryAsync(batch);
        await lease!.CompleteAsync();
        Assert.Throws<ObjectDisposedException>(() => batch.Entries[0]);
        Assert.Equal(batch.EndAddress, lane.BeginAddress);
    }

    [Fact]
    public async Task Open_FormatVersionFromTheFuture_IsRefusedWithAClearError()
    {
        var options = Options(Dir);
        await using (DurableBuffer.Open(options))
        {
        }

        var marker = Path.Combine(Dir, "buffer.json");
        await File.WriteAllTextAsync(marker, (await File.ReadAllTextAsync(marker)).Replace("\"version\":2", "\"version\":3", StringComparison.Ordinal));
        var e = Assert.Throws<BufferFormatException>(() => DurableBuffer.Open(options));
        Assert.Contains("format version 3", e.Message, StringComparison.Ordinal);
        Assert.Contains("reads versions 1 and 2", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Open_LaneDataWithoutMarker_IsRefused()
    {
        var options = Options(Dir);
        await using (var b = DurableBuffer.Open(options))
        {
            await b.Lane("critical").AppendAsync(Rec(1));
        }

        File.Delete(Path.Combine(Dir, "buffer.json"));
        Assert.Throws<BufferFormatException>(() => DurableBuffer.Open(options));
    }

    [Fact]
    public async Task Open_LaneWithDataRemovedFromConfig_IsRefusedNamingTheLane()
    {
        await using (var b = DurableBuffer.Open(Options(Dir)))
        {
            await b.Lane("bulk").AppendAsync(Rec(1));
        }

        var e = Assert.Throws<BufferFormatException>(() => DurableBuffer.Open(Options(Dir, Lane("critical"))));
        Assert.Contains("'bulk'", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_InvalidOptions_ListsEveryProblemWithItsKey()
    {
        var options = Options(Dir, Lane("Bad Name"), Lane("x", quota: 1L << 40), Lane("x"));
        options.MemorySizeBits = 15;
        var e = Assert.Throws<ArgumentException>(() => DurableBuffer.Open(options));
        Assert.Contains("Buffer:Lanes:0:Name", e.Message, StringComparison.Ordinal);
        Assert.Contains("Buffer:Lanes:1:QuotaBytes", e.Message, StringComparison.Ordinal);
        Assert.Contains("configured twice", e.Message, StringComparison.Ordinal);
        Assert.Contains("Buffer:MemorySizeBits", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Append_ReplayAfterRestart_RecognisesRecordsAndMultipleOutputsAlreadyBuffered()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            var lane = buffer.Lane("critical");
            for (var i = 0; i < 10; i++)
            {
                await lane.AppendAsync(Rec(i));
            }

            // One input (offset 10) that produced two outputs, both durable before the crash.
            await lane.AppendAsync(Rec(10));
            await lane.AppendAsync(Rec(10));
        }

        await using var reopened = DurableBuffer.Open(options);
        var again = reopened.Lane("critical");
        // Re-processing from an earlier offset: everything the lane holds is recognised, including both outputs of 10.
        for (var i = 5; i <= 10; i++)
        {
            Assert.Equal(AppendStatus.AlreadyBuffered, (await again.AppendAsync(Rec(i))).Status);
        }

        Assert.Equal(AppendStatus.AlreadyBuffered, (await again.AppendAsync(Rec(10))).Status);
        // A third output of offset 10 is new, and so is offset 11.
        Assert.Equal(AppendStatus.Accepted, (await again.AppendAsync(Rec(10))).Status);
        Assert.Equal(AppendStatus.Accepted, (await again.AppendAsync(Rec(11))).Status);
        await reopened.WhenDurableAsync();
        Assert.Equal([.. Enumerable.Range(0, 11).Select(i => (long)i), 10L, 10L, 11L], ReadAll(again).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task ResumePoints_PartitionFeedingTwoLanes_NeverPassARecordThatIsNotDurable()
    {
        var options = Options(Dir);
        options.CommitIntervalMs = 10_000;
        options.CommitBytes = 1L << 30;
        await using var buffer = DurableBuffer.Open(options);
        await buffer.Lane("critical").AppendAsync(Rec(0, topic: "mixed"));
        await buffer.Lane("bulk").AppendAsync(Rec(1, topic: "mixed"));
        await buffer.CommitNowAsync();
        await buffer.CommitNowAsync();
        Assert.Equal(2, buffer.GetResumePoints()[new SourcePartition("mixed", 0)]);
        // Offset 2 goes to bulk, offset 3 to critical; if only critical were committed, the resume point must stay.
        await buffer.Lane("bulk").AppendAsync(Rec(2, topic: "mixed"));
        await buffer.Lane("critical").AppendAsync(Rec(3, topic: "mixed"));
        Assert.Equal(2, buffer.GetResumePoints()[new SourcePartition("mixed", 0)]);
        await buffer.CommitNowAsync();
        await buffer.CommitNowAsync();
        Assert.Equal(4, buffer.GetResumePoints()[new SourcePartition("mixed", 0)]);
    }

    [Fact]
    public async Task StoreSourceProgress_FilteredOffsetsAndCheckpoints_AreDurable()
    {
        var options = Options(Dir);
        await using (var buffer = DurableBuffer.Open(options))
        {
            await buffer.Lane("bulk").AppendAsync(Rec(3, topic: "m"));
            await buffer.WhenDurableAsync();
            await buffer.StoreSourceProgressAsync(
                new Dictionary<SourcePartition, long> { [new("m", 0)] = 10, [new("quiet", 2)] = 7 },
                new Dictionary<SourcePartition, string> { [new("m", 0)] = "window:5" });
        }

        await using var reopened = DurableBuffer.Open(options);
        Assert.Equal(10, reopened.GetResumePoints()[new SourcePartition("m", 0)]);
        Assert.Equal(7, reopened.GetResumePoints()[new SourcePartition("quiet", 2)]);
        Assert.Equal("window:5", reopened.GetSourceCheckpoints()[new SourcePartition("m", 0)]);
    }

    [Fact]
    public async Task ResumePoints_AfterACrashThatKeptOnlyOneLanesCommit_DoNotJumpPastTheMissingRecord()
    {
        var options = Options(Dir);
        options.CommitIntervalMs = 10_000;
        options.CommitBytes = 1L << 30;
        var crashed = Path.Combine(Dir, "..", Path.GetFileName(Dir) + "-crashed");
        try
        {
            await using (var buffer = DurableBuffer.Open(options))
            {
                await buffer.Lane("critical").AppendAsync(Rec(0, topic: "mixed"));
                await buffer.Lane("bulk").AppendAsync(Rec(1, topic: "mixed"));
                await buffer.CommitNowAsync();
                await buffer.CommitNowAsync();
                // Offset 2 goes to critical, 3 to bulk; only bulk commits before the "crash".
                await buffer.Lane("critical").AppendAsync(Rec(2, topic: "mixed"));
                await buffer.Lane("bulk").AppendAsync(Rec(3, topic: "mixed"));
                await buffer.CommitLaneAsync(buffer.Lane("bulk"), CancellationToken.None);
                CopyDirectory(Dir, crashed);
            }

            // Usually only bulk's commit (offsets 1, 3) made it; if the commit loop also committed critical, the state
            // is simply complete. Either way the resume point must not pass the first offset missing from the lanes.
            var crashedOptions = Options(crashed);
            await using (var recovered = DurableBuffer.Open(crashedOptions))
            {
                var firstMissing = FirstMissing(recovered, "mixed");
                Assert.True(recovered.GetResumePoints()[new SourcePartition("mixed", 0)] <= firstMissing);
            }

            // Opening and closing (commit rounds with nothing new) must not move the resume point past it either.
            await using var again = DurableBuffer.Open(crashedOptions);
            var missing = FirstMissing(again, "mixed");
            var resume = again.GetResumePoints()[new SourcePartition("mixed", 0)];
            Assert.True(resume <= missing, $"resume point {resume} passes missing offset {missing}");
        }
        finally
        {
            if (Directory.Exists(crashed))
            {
                Directory.Delete(crashed, recursive: true);
            }
        }
    }

    private static long FirstMissing(DurableBuffer buffer, string topic)
    {
        var present = buffer.Lanes.SelectMany(ReadAll).Where(e => e.Record?.Source.Topic == topic).Select(e => e.Record!.Source.Offset).ToHashSet();
        var o = 0L;
        while (present.Contains(o))
        {
            o++;
        }

        return o;
    }

    private static void CopyDirectory(string from, string to)
    {
        foreach (var dir in Directory.EnumerateDirectories(from, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(dir.Replace(from, to, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            using var src = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var dst = File.Create(file.Replace(from, to, StringComparison.Ordinal));
            src.CopyTo(dst);
        }
    }
}
