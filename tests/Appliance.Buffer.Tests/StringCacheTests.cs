using System.Text;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class StringCacheTests
{
    [Fact]
    public void Get_ManyNamesInTurn_EachDecodedRightAndTheSameInstanceAgain()
    {
        // More names than the recent slots, in an order that evicts them (a reader alternates source and destination
        // topics, and lanes hold many topics): every answer must be the name of the bytes given, never a recent neighbour's.
        var cache = new StringCache();
        var names = Enumerable.Range(0, 9).Select(i => $"store-042.orders-{i}").Append("orders").Append("ördérs-ü").ToArray();
        var first = new Dictionary<string, string>();
        for (var round = 0; round < 3; round++)
        {
            foreach (var name in names.Concat(names.Reverse()).Concat(names.Where((_, i) => i % 3 == 0)))
            {
                var got = cache.Get(Encoding.UTF8.GetBytes(name));
                Assert.Equal(name, got);
                if (first.TryGetValue(name, out var earlier) && round == 0)
                {
                    Assert.Same(earlier, got);
                }

                first.TryAdd(name, got);
            }
        }
    }

    [Fact]
    public void Get_PrefixOfARecentName_IsNotTakenForIt()
    {
        var cache = new StringCache();
        Assert.Equal("orders-eu", cache.Get("orders-eu"u8));
        Assert.Equal("orders", cache.Get("orders"u8));
        Assert.Equal("orders-e", cache.Get("orders-e"u8));
        Assert.Equal("", cache.Get(""u8));
        Assert.Equal("orders-eu", cache.Get("orders-eu"u8));
    }
}
