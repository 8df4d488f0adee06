using System.Text;
using Appliance.Core.Records;
using Appliance.Forwarder.Drain;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Forwarder.Tests.Drain;

/// <summary>
/// The drain's native produce path must put exactly the record on the wire that Confluent.Kafka's Produce with
/// <see cref="ProvenanceHeaders.Build(EdgeRecord, byte[], byte[], byte[])"/> puts there: same key, value, timestamp and
/// headers (names, order, values), null and empty kept apart.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DirectProducerTests
{
    private static readonly byte[] Site = "site-7"u8.ToArray();
    private static readonly byte[] Lane = "critical"u8.ToArray();

    private static IEnumerable<EdgeRecord> Records()
    {
        yield return new EdgeRecord(new SourcePosition("sensors", 0, 0), 1_700_000_000_001, "k1"u8.ToArray(), "v1"u8.ToArray());
        yield return new EdgeRecord(new SourcePosition("sensors", 3, 42), 1_700_000_000_002, null, "no key"u8.ToArray());
        yield return new EdgeRecord(new SourcePosition("sensors", 300, 1L << 40), 1_700_000_000_003, "tombstone"u8.ToArray(), null);
        yield return new EdgeRecord(new SourcePosition("sensors", 1, 7), 1_700_000_000_004, [], []);
        yield return new EdgeRecord(new SourcePosition("sensors", 2, 8), 1_700_000_000_005, "k"u8.ToArray(), new byte[5000],
            [new RecordHeader("trace-id", "abc"u8.ToArray()), new RecordHeader("null-header", null), new RecordHeader("empty", []), new RecordHeader("ünï", [1, 2, 3])]);
    }

    [Fact]
    public async Task Produce_SameRecordsAsConfluentKafkaWithProvenanceHeaders()
    {
        using var cluster = new MockKafkaCluster();
        var viaClient = KafkaTestHelpers.UniqueName("via-client");
        var viaDirect = KafkaTestHelpers.UniqueName("via-direct");
        cluster.CreateTopic(viaClient, 1);
        cluster.CreateTopic(viaDirect, 1);
        var config = KafkaTestHelpers.ProducerConfig(cluster.BootstrapServers);
        config.Set("dotnet.producer.enable.delivery.reports", "false");
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(config).Build())
        {
            using var direct = DirectProducer.TryCreate(producer);
            Assert.NotNull(direct);
            foreach (var r in Records())
            {
                var topicBytes = Encoding.UTF8.GetBytes(r.Source.Topic);
                producer.Produce(new TopicPartition(viaClient, 0), new Message<byte[]?, byte[]?>
                {
                    Key = r.Key,
                    Value = r.Value,
                    Headers = ProvenanceHeaders.Build(r, Site, topicBytes, Lane),
                    Timestamp = new Timestamp(r.TimestampMs, TimestampType.CreateTime),
                });
                Assert.Equal(ErrorCode.NoError, direct.Produce(viaDirect, r, Site, topicBytes, Lane));
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var expected = await cluster.ConsumeAllAsync(viaClient, Records().Count(), TimeSpan.FromSeconds(30));
        var actual = await cluster.ConsumeAllAsync(viaDirect, Records().Count(), TimeSpan.FromSeconds(30));
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var e = expected[i].Message;
            var a = actual[i].Message;
            Assert.Equal(e.Key, a.Key);
            Assert.Equal(e.Value, a.Value);
            Assert.Equal(e.Timestamp, a.Timestamp);
            Assert.Equal(e.Headers.Select(h => (h.Key, h.GetValueBytes())), a.Headers.Select(h => (h.Key, h.GetValueBytes())));
        }

        // Null and empty stay apart (the records above: a null key, a null value, an empty key and value).
        Assert.Null(actual[1].Message.Key);
        Assert.Null(actual[2].Message.Value);
        Assert.NotNull(actual[3].Message.Key);
        Assert.Empty(actual[3].Message.Value);
        Assert.Null(actual[4].Message.Headers.Single(h => h.Key == "null-header").GetValueBytes());
        Assert.True(ProvenanceHeaders.TryRead(actual[2].Message.Headers, out var source));
        Assert.Equal(1_099_511_627_776, source.Offset);
    }

    [Fact]
    public void Produce_AfterDispose_Throws()
    {
        using var cluster = new MockKafkaCluster();
        using var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaTestHelpers.ProducerConfig(cluster.BootstrapServers)).Build();
        var direct = DirectProducer.TryCreate(producer)!;
        direct.Dispose();
        Assert.Throws<ObjectDisposedException>(() => direct.Produce("t", Records().First(), Site, Site, Lane));
    }
}
