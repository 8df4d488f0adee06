using Appliance.Chaos.Verification;

namespace Appliance.Chaos.Tests.Verification;

[Trait("Category", "Unit")]
public sealed class DeliveryVerifierTests
{
    private const string Topic = "site.edge-t";

    /// <summary>Feeds <paramref name="count"/> produced records of key k (edge partition 0, offsets 100+seq).</summary>
    private static DeliveryVerifier Produced(int count, DuplicateCheck check = DuplicateCheck.Strict, string key = "critical-k1")
    {
        var v = new DeliveryVerifier(check);
        for (var s = 0; s < count; s++)
        {
            v.RecordProduced(new ProducedRecord("critical", key, s, "edge-t", 0, 100 + s, 1000 + s));
        }

        return v;
    }

    private static DeliveredRecord At(long offset, long seq, string key = "critical-k1", int partition = 0, long? sourceOffset = null) =>
        new(Topic, partition, offset, key, seq, 1000 + seq, 1050 + (2 * seq), new Provenance("edge-t", 0, sourceOffset ?? 100 + seq));

    [Fact]
    public void Verify_EverythingOnceInOrder_Passes()
    {
        var v = Produced(10);
        for (var s = 0; s < 10; s++)
        {
            v.RecordDelivered(At(s, s));
        }

        var r = v.Verify();

        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal(10, r.Produced);
        Assert.Equal(10, r.Delivered);
        Assert.Equal(0, r.Lost + r.Duplicated + r.Redelivered + r.OutOfOrder);
        Assert.Equal(59, r.LatencyMaxMs);
        Assert.Equal(54, r.LatencyP50Ms);
    }

    [Fact]
    public void Verify_MissingRecords_FailsNamingKeySequencesAndEdgeOffsets()
    {
        var v = Produced(10);
        foreach (var s in new[] { 0, 1, 2, 6, 7, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(4, r.Lost);
        var message = Assert.Single(r.Failures);
        Assert.Equal("lost: key critical-k1 4 record(s), seq 3-5, 8 (edge edge-t/0@103-105, edge-t/0@108)", message);
        Assert.Equal(4, r.Lanes["critical"].Lost);
    }

    [Fact]
    public void Verify_SecondCopyWithSameProvenance_StrictFailsWithBothPositions()
    {
        var v = Produced(3);
        v.RecordDelivered(At(0, 0));
        v.RecordDelivered(At(1, 1));
        v.RecordDelivered(At(2, 1));
        v.RecordDelivered(At(3, 2));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(1, r.Redelivered);
        Assert.Equal(0, r.OutOfOrder);
        Assert.Contains("duplicate: key critical-k1 seq 1 at site.edge-t/0@1 and again at site.edge-t/0@2 (same source edge-t/0@101)", r.Failures);
    }

    [Theory]
    [InlineData(DuplicateCheck.ProvenanceDedup, "at-least-once")]
    [InlineData(DuplicateCheck.NotCheckableOnMock, "not checkable on the mock")]
    public void Verify_RedeliveryInLenientModes_PassesWithNote(DuplicateCheck check, string noteFragment)
    {
        var v = Produced(3, check);
        // A replay after a kill: 0 1 2 then 1 2 again.
        foreach (var (o, s) in new[] { (0, 0), (1, 1), (2, 2), (3, 1), (4, 2) })
        {
            v.RecordDelivered(At(o, s));
        }

        var r = v.Verify();

        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal(2, r.Redelivered);
        Assert.Equal(0, r.OutOfOrder);
        Assert.Contains(r.Notes, n => n.Contains(noteFragment, StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_CopyWithDifferentProvenance_FailsEvenInAtLeastOnceMode()
    {
        var v = Produced(2, DuplicateCheck.ProvenanceDedup);
        v.RecordDelivered(At(0, 0));
        v.RecordDelivered(At(1, 1));
        v.RecordDelivered(At(2, 1, sourceOffset: 555));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(1, r.Duplicated);
        Assert.Contains("duplicate: key critical-k1 seq 1 at site.edge-t/0@1 (source edge-t/0@101) and at site.edge-t/0@2 (source edge-t/0@555); not removable by provenance", r.Failures);
    }

    [Fact]
    public void Verify_Reordered_FailsNamingBothSequencesAndPositions()
    {
        var v = Produced(5);
        foreach (var (o, s) in new[] { (0, 0), (1, 1), (2, 3), (3, 2), (4, 4) })
        {
            v.RecordDelivered(At(o, s));
        }

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(1, r.OutOfOrder);
        Assert.Equal(0, r.Lost);
        Assert.Equal("out of order: key critical-k1 seq 2 at site.edge-t/0@3 came after seq 3 at site.edge-t/0@2", Assert.Single(r.Failures));
    }

    [Fact]
    public void Verify_KeySpreadOverPartitions_Fails()
    {
        var v = Produced(2);
        v.RecordDelivered(At(0, 0, partition: 0));
        v.RecordDelivered(At(0, 1, partition: 3));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(1, r.SplitKeys);
        Assert.Contains(r.Failures, f => f.StartsWith("key critical-k1: records spread over central partitions site.edge-t/0, site.edge-t/3", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_DropsCoveredByGapMarkerWithMatchingCount_Passes()
    {
        var v = Produced(10);
        foreach (var s in new[] { 0, 1, 2, 7, 8, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        var marker = new GapMarker("critical", "drop-oldest", 4, [new GapRange("edge-t", 0, 103, 106, 4)], "{m1}");
        v.RecordGap(marker);
        v.RecordGap(marker with { }); // a redelivered copy of the same marker counts once

        var r = v.Verify();

        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal(4, r.DroppedByPolicy);
        Assert.Equal(4, r.GapMarkerCount);
        Assert.Equal(0, r.Lost);
        Assert.Equal(1, r.GapMarkers);
    }

    [Fact]
    public void Verify_GapMarkerCountDiffersFromMissingRecords_Fails()
    {
        var v = Produced(10);
        foreach (var s in new[] { 0, 1, 2, 5, 6, 7, 8, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        v.RecordGap(new GapMarker("critical", "drop-oldest", 5, [new GapRange("edge-t", 0, 103, 107, 5)], "{m}"));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal("gap markers of lane critical count 5 dropped records, but 2 acknowledged records of that lane are missing inside their ranges and 3 named by them were delivered", Assert.Single(r.Failures));
    }

    [Fact]
    public void Verify_RecordStoredTwiceAtTheEdge_EachEdgeRecordOnce_IsNotAForwardingDuplicate()
    {
        var v = Produced(3);
        // The edge holds seq 1 at its acknowledged offset 101 and again at 150.
        v.EdgeLookup = p => p.Offset switch { 100 => ("critical-k1", 0), 101 or 150 => ("critical-k1", 1), 102 => ("critical-k1", 2), _ => null };
        v.RecordDelivered(At(0, 0));
        v.RecordDelivered(At(1, 1));
        // The edge stored seq 1 again at offset 150 (a producer retry across an edge restart); both edge records arrive once.
        v.RecordDelivered(At(2, 1, sourceOffset: 150));
        v.RecordDelivered(At(3, 2));

        var r = v.Verify();

        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal(0, r.Duplicated);
        Assert.Equal(1, r.EdgeDuplicates);
        Assert.Contains(r.Notes, n => n.StartsWith("1 records stored twice at the edge", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_SecondCopyNamingAnOffsetTheEdgeDoesNotHoldItAt_StillFails()
    {
        var v = Produced(2);
        v.EdgeLookup = p => p.Offset switch { 100 => ("critical-k1", 0), 101 => ("critical-k1", 1), _ => null };
        AssertForwardingDuplicate(v, At(2, 1, sourceOffset: 150));
    }

    [Fact]
    public void Verify_SecondCopyNamingAnotherPartition_StillFails()
    {
        var v = Produced(2);
        v.EdgeLookup = _ => ("critical-k1", 1);
        AssertForwardingDuplicate(v, At(2, 1, partition: 0) with { Source = new Provenance("edge-t", 5, 101) });
    }

    /// <summary>Delivers seq 0 and 1 once, then <paramref name="secondCopy"/> of seq 1: a forwarding duplicate, not the edge's.</summary>
    private static void AssertForwardingDuplicate(DeliveryVerifier v, DeliveredRecord secondCopy)
    {
        v.RecordDelivered(At(0, 0));
        v.RecordDelivered(At(1, 1));
        v.RecordDelivered(secondCopy);

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal(1, r.Duplicated);
        Assert.Equal(0, r.EdgeDuplicates);
    }

    [Fact]
    public void Verify_AtLeastOnceDroppedRecordDeliveredByFailedAttempt_CountsInsideTheGap()
    {
        var v = Produced(10, DuplicateCheck.ProvenanceDedup);
        // Seq 3-4 reached central in an attempt that failed; the batch was rewound and 3-6 were then evicted.
        foreach (var s in new[] { 0, 1, 2, 3, 4, 7, 8, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        v.RecordGap(new GapMarker("critical", "drop-oldest", 4, [new GapRange("edge-t", 0, 103, 106, 4)], "{m}"));

        var r = v.Verify();

        Assert.True(r.Passed, string.Join("\n", r.Failures));
        Assert.Equal(2, r.DroppedByPolicy);
        Assert.Equal(2, r.DeliveredInGaps);
        Assert.Contains(r.Notes, n => n.StartsWith("2 records named by gap markers had reached central", StringComparison.Ordinal));
    }

    [Fact]
    public void Verify_AtLeastOnceGapMarkerNamesMoreThanItsRanges_Fails()
    {
        var v = Produced(10, DuplicateCheck.ProvenanceDedup);
        foreach (var s in new[] { 0, 1, 2, 3, 4, 7, 8, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        v.RecordGap(new GapMarker("critical", "drop-oldest", 6, [new GapRange("edge-t", 0, 103, 106, 6)], "{m}"));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal("gap markers of lane critical count 6 dropped records, but 4 acknowledged records of that lane lie inside their ranges (2 missing, 2 delivered by an earlier attempt)", Assert.Single(r.Failures));
    }

    [Fact]
    public void Verify_ExactlyOnceDroppedRecordAlsoDelivered_Fails()
    {
        var v = Produced(10);
        foreach (var s in new[] { 0, 1, 2, 3, 4, 7, 8, 9 })
        {
            v.RecordDelivered(At(s, s));
        }

        v.RecordGap(new GapMarker("critical", "drop-oldest", 4, [new GapRange("edge-t", 0, 103, 106, 4)], "{m}"));

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Equal("gap markers of lane critical count 4 dropped records, but 2 acknowledged records of that lane are missing inside their ranges and 2 named by them were delivered", Assert.Single(r.Failures));
    }

    [Fact]
    public void Verify_UnacknowledgedRecordMissing_IsNotLoss()
    {
        var v = Produced(2);
        v.RecordProduceFailed("critical-k1", 2);
        v.RecordDelivered(At(0, 0));
        v.RecordDelivered(At(1, 1));

        Assert.True(v.Verify().Passed);
    }

    [Fact]
    public void Verify_MarkedInvalid_Fails()
    {
        var v = Produced(1);
        v.RecordDelivered(At(0, 0));
        v.MarkInvalid("central evicted records");

        var r = v.Verify();

        Assert.False(r.Passed);
        Assert.Contains("verification invalid: central evicted records", r.Failures);
    }

    [Fact]
    public void Verify_ManyLostKeys_BoundsMessagesButKeepsCounts()
    {
        var v = new DeliveryVerifier(DuplicateCheck.Strict);
        for (var k = 0; k < 50; k++)
        {
            v.RecordProduced(new ProducedRecord("bulk", $"bulk-k{k}", 0, "edge-b", 0, k, 1));
        }

        var r = v.Verify();

        Assert.Equal(50, r.Lost);
        Assert.Equal(DeliveryVerifier.MaxMessagesPerCheck + 1, r.Failures.Count);
        Assert.Equal(50 - DeliveryVerifier.MaxMessagesPerCheck, r.FailuresOmitted);
    }

    [Fact]
    public void IsComplete_TrueOnlyWhenEveryAcknowledgedRecordIsDeliveredOrInAGap()
    {
        var v = Produced(3);
        v.RecordDelivered(At(0, 0));
        Assert.False(v.IsComplete());
        v.RecordDelivered(At(1, 1));
        v.RecordGap(new GapMarker("critical", "ttl", 1, [new GapRange("edge-t", 0, 102, 102, 1)], "{g}"));
        Assert.True(v.IsComplete());
    }
}
