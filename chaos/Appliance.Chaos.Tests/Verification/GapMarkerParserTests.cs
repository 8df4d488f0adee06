using System.Text;
using Appliance.Chaos.Verification;

namespace Appliance.Chaos.Tests.Verification;

[Trait("Category", "Unit")]
public sealed class GapMarkerParserTests
{
    [Fact]
    public void TryParse_ForwarderFormat_ReadsLaneCountAndRanges()
    {
        var json = """{"site":"s1","lane":"bulk","reason":"drop-oldest","count":7,"first_dropped_at_ms":1,"last_dropped_at_ms":2,"ranges":[{"topic":"t","partition":3,"first_offset":10,"last_offset":15,"count":6},{"topic":"t","partition":4,"first_offset":0,"last_offset":0,"count":1}]}""";

        var g = GapMarkerParser.TryParse(Encoding.UTF8.GetBytes(json), out var error);

        Assert.Null(error);
        Assert.NotNull(g);
        Assert.Equal("bulk", g.Lane);
        Assert.Equal("drop-oldest", g.Reason);
        Assert.Equal(7, g.Count);
        Assert.Equal([new GapRange("t", 3, 10, 15, 6), new GapRange("t", 4, 0, 0, 1)], g.Ranges);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"site":"s"}""")]
    public void TryParse_NotAMarker_ReturnsNullWithReason(string json)
    {
        Assert.Null(GapMarkerParser.TryParse(Encoding.UTF8.GetBytes(json), out var error));
        Assert.NotNull(error);
    }
}
