using System.Text.Json;
using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.Forwarder.Drain;

namespace Appliance.Forwarder.Tests.Drain;

[Trait("Category", "Unit")]
public sealed class DrainFormatTests
{
    [Fact]
    public void Plan_AllLanesBacklogged_SharesFollowWeights()
    {
        var s = new DeficitScheduler([8, 2, 1], 1000);
        long[] sent = [0, 0, 0];
        for (var round = 0; round < 100; round++)
        {
            var plan = s.Plan([long.MaxValue, long.MaxValue, long.MaxValue], 11_000);
            for (var i = 0; i < 3; i++)
            {
                s.Charge(i, plan[i], ranEmpty: false);
                sent[i] += plan[i];
            }
        }

        Assert.Equal(8.0, (double)sent[0] / sent[2], 1);
        Assert.Equal(2.0, (double)sent[1] / sent[2], 1);
    }

    [Fact]
    public void Plan_OnlyBulkHasData_GetsWholeBudget()
    {
        var s = new DeficitScheduler([8, 1], 1000);
        var plan = s.Plan([0, long.MaxValue], 50_000);
        Assert.Equal(0, plan[0]);
        Assert.True(plan[1] >= 50_000);
    }

    [Fact]
    public void Plan_TopLaneHasLittle_RestOfBudgetGoesToOthers()
    {
        var s = new DeficitScheduler([8, 1], 1000);
        var plan = s.Plan([300, long.MaxValue], 100_000);
        Assert.True(plan[0] >= 300);
        Assert.True(plan[1] >= 100_000 - plan[0] - 8000, $"bulk got {plan[1]}");
    }

    [Fact]
    public void Charge_Overshoot_CarriedAsDebtAndIdleLaneLosesCredit()
    {
        var s = new DeficitScheduler([1, 1], 1000);
        var plan = s.Plan([long.MaxValue, long.MaxValue], 2000);
        s.Charge(0, plan[0] + 5000, ranEmpty: false);
        s.Charge(1, 10, ranEmpty: true);
        Assert.True(s.Credit(0) < 0);
        Assert.Equal(0, s.Credit(1));
        var next = s.Plan([long.MaxValue, long.MaxValue], 2000);
        Assert.True(next[1] > next[0]);
    }

    [Fact]
    public void Checkpoint_RoundTrips()
    {
        var cp = new Checkpoint("store-042", "bulk", "abc123", 4096, 2048, 17, 1_700_000_000_000);
        Assert.Equal(cp, Checkpoint.Parse(cp.ToJson()));
        Assert.Equal("store-042/bulk", Checkpoint.KeyOf("store-042", "bulk"));
        Assert.Null(Checkpoint.Parse("{\"v\":2}"u8));
        Assert.Null(Checkpoint.Parse("not json"u8));
    }

    [Fact]
    public void GapMarker_Json_NamesRangesAndCount()
    {
        var gap = new GapMarker("bulk", DropReason.DropOldest, [new GapRange("cams", 1, 10, 19, 10), new GapRange("cams", 2, 5, 5, 1)], 100, 200);
        using var doc = JsonDocument.Parse(GapMarkerFormat.ToJson("store-042", gap));
        var r = doc.RootElement;
        Assert.Equal("store-042", r.GetProperty("site").GetString());
        Assert.Equal("drop_oldest", r.GetProperty("reason").GetString());
        Assert.Equal(11, r.GetProperty("count").GetInt64());
        Assert.Equal(2, r.GetProperty("ranges").GetArrayLength());
        Assert.Equal(19, r.GetProperty("ranges")[0].GetProperty("last_offset").GetInt64());
    }

    [Fact]
    public void ProvenanceHeader_AppendedAfterOwnHeaders_OneValueWithSixFields()
    {
        var rec = new EdgeRecord(new SourcePosition("alarms.v2_eu-1", 3, 42), 1234, [1], [2], [new RecordHeader("trace", [9])]);
        var h = ProvenanceHeaders.Build(rec, "store-042"u8.ToArray(), "critical"u8.ToArray());
        Assert.Equal(["trace", "edge.provenance"], h.Select(x => x.Key));
        Assert.Equal("store-042/alarms.v2_eu-1/3/42/1234/critical", System.Text.Encoding.UTF8.GetString(h.GetLastBytes("edge.provenance")));
        Assert.True(ProvenanceHeaders.TryRead(h, out var p));
        Assert.Equal(new Provenance("store-042", "alarms.v2_eu-1", 3, 42, 1234, "critical"), p);
    }

    [Fact]
    public void ProvenanceHeader_LongestNamesAndNumbers_FitAndRoundTrip()
    {
        var site = new string('s', 63);
        var topic = new string('t', 249);
        var lane = new string('l', 32);
        var value = new byte[ProvenanceHeaders.MaxValueLength];
        var n = ProvenanceHeaders.Write(value, System.Text.Encoding.UTF8.GetBytes(site), System.Text.Encoding.UTF8.GetBytes(topic), int.MaxValue, long.MaxValue, long.MinValue, System.Text.Encoding.UTF8.GetBytes(lane));
        Assert.True(ProvenanceHeaders.TryParse(value.AsSpan(0, n), out var p));
        Assert.Equal(new Provenance(site, topic, int.MaxValue, long.MaxValue, long.MinValue, lane), p);
    }

    [Theory]
    [InlineData("store-042/alarms/3/42/1234/critical/more/fields", true)] // a later version may append fields
    [InlineData("store-042/alarms/3/42/1234", false)] // five fields
    [InlineData("store-042/alarms/x/42/1234/critical", false)] // partition not a number
    [InlineData("store-042/alarms/3/42 /1234/critical", false)] // trailing text after a number
    [InlineData("store-042//3/42/1234/critical", false)] // empty topic
    [InlineData("store-042/alarms/3/42/1234/", false)] // empty lane
    [InlineData("", false)]
    public void ProvenanceHeader_Parse_AcceptsOnlySixWellFormedFields(string value, bool valid)
    {
        Assert.Equal(valid, ProvenanceHeaders.TryParse(System.Text.Encoding.UTF8.GetBytes(value), out var p));
        if (valid)
        {
            Assert.Equal(new Provenance("store-042", "alarms", 3, 42, 1234, "critical"), p);
        }
    }

    [Fact]
    public void ProvenanceHeader_Missing_NotRead()
    {
        Assert.False(ProvenanceHeaders.TryRead([new Confluent.Kafka.Header("edge.offset", "42"u8.ToArray())], out _));
        Assert.False(ProvenanceHeaders.TryRead(null, out _));
    }
}
