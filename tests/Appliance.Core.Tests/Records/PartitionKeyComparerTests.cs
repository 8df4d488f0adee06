using Appliance.Core.Records;

namespace Appliance.Core.Tests.Records;

[Trait("Category", "Unit")]
public sealed class PartitionKeyComparerTests
{
    // Two instances of one name, as after a restart (recovered keys) next to the consumer's own strings.
    private static string Copy(string s) => new([.. s]);

    [Fact]
    public void Equals_SameTopicInAnotherInstance_EqualWithTheSameHash()
    {
        var c = new SourcePartitionComparer();
        var a = new SourcePartition("orders", 3);
        var b = new SourcePartition(Copy("orders"), 3);
        Assert.False(ReferenceEquals(a.Topic, b.Topic));

        // Hashed in both orders, so that each is once the remembered name and once not.
        var first = (c.GetHashCode(a), c.GetHashCode(b), c.GetHashCode(a));
        Assert.True(c.Equals(a, b));
        Assert.Equal(first.Item1, first.Item2);
        Assert.Equal(first.Item1, first.Item3);
    }

    [Theory]
    [InlineData("orders", 3, "orders", 4)]
    [InlineData("orders", 3, "orders2", 3)]
    [InlineData("orders", 3, "Orders", 3)]
    public void Equals_OtherPartitionOrTopic_NotEqual(string topicA, int partitionA, string topicB, int partitionB)
    {
        var c = new SourcePartitionComparer();
        Assert.False(c.Equals(new SourcePartition(topicA, partitionA), new SourcePartition(topicB, partitionB)));
    }

    [Fact]
    public void Dictionary_KeysOfManyTopicsLookedUpInRunsAndAlternating_FindsEveryValue()
    {
        var d = new Dictionary<SourcePartition, long>(new SourcePartitionComparer());
        var topics = Enumerable.Range(0, 20).Select(i => $"site-{i % 3}.topic-{i}").ToList();
        foreach (var t in topics)
        {
            for (var p = 0; p < 8; p++)
            {
                d[new SourcePartition(t, p)] = (topics.IndexOf(t) * 100) + p;
            }
        }

        // Runs of one partition (the ingest's pattern), then every key alternating with another topic, each time
        // through a fresh copy of the name as well as the stored instance.
        foreach (var t in topics)
        {
            for (var p = 0; p < 8; p++)
            {
                for (var run = 0; run < 3; run++)
                {
                    Assert.Equal((topics.IndexOf(t) * 100) + p, d[new SourcePartition(t, p)]);
                    Assert.Equal((topics.IndexOf(t) * 100) + p, d[new SourcePartition(Copy(t), p)]);
                }
            }
        }

        for (var i = 0; i < topics.Count; i++)
        {
            var other = topics[(i + 7) % topics.Count];
            Assert.Equal((i * 100) + 5, d[new SourcePartition(topics[i], 5)]);
            Assert.Equal((topics.IndexOf(other) * 100) + 5, d[new SourcePartition(Copy(other), 5)]);
        }

        Assert.False(d.ContainsKey(new SourcePartition("site-0.topic-0", 8)));
        Assert.False(d.ContainsKey(new SourcePartition("site-9.topic-0", 0)));
        Assert.Equal(160, d.Count);
    }

    [Fact]
    public async Task GetHashCode_FromSeveralThreadsWithDifferentTopics_AlwaysTheHashOfTheKey()
    {
        var shared = new SourcePartitionComparer();
        var topics = Enumerable.Range(0, 4).Select(i => $"topic-{i}").ToArray();
        var expected = topics.Select(t => new SourcePartitionComparer().GetHashCode(new SourcePartition(t, 1))).ToArray();
        var wrong = 0;
        await Task.WhenAll(Enumerable.Range(0, 4).Select(thread => Task.Run(() =>
        {
            for (var i = 0; i < 200_000; i++)
            {
                var t = (thread + i) % topics.Length;
                if (shared.GetHashCode(new SourcePartition(topics[t], 1)) != expected[t])
                {
                    Interlocked.Increment(ref wrong);
                }
            }
        })));
        Assert.Equal(0, wrong);
    }
}
