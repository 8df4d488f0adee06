using System.Diagnostics;
using Appliance.Forwarder.Ingest;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.Forwarder.Tests.Ingest;

/// <summary>
/// The ingest's native poll path must take exactly the records Confluent.Kafka's <c>Consume</c> returns: topic,
/// partition, offset, timestamp, key, value and headers (names, order, values), null and empty kept apart; and report
/// end-of-partition events and consumer errors as the ingest expects them.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DirectConsumerTests
{
    [Fact]
    public async Task Poll_SameRecordsAsConfluentKafkaConsume()
    {
        using var cluster = new MockKafkaCluster();
        var first = KafkaTestHelpers.UniqueName("sensors");
        var second = KafkaTestHelpers.UniqueName("ünïcode-topic");
        cluster.CreateTopic(first, 3);
        cluster.CreateTopic(second, 1);
        using (var producer = new ProducerBuilder<byte[]?, byte[]?>(KafkaTestHelpers.ProducerConfig(cluster.BootstrapServers)).Build())
        {
            var messages = new (string Topic, int Partition, Message<byte[]?, byte[]?> Message)[]
            {
                (first, 0, new() { Key = "k1"u8.ToArray(), Value = "v1"u8.ToArray(), Timestamp = new Timestamp(1_700_000_000_001, TimestampType.CreateTime) }),
                (first, 1, new() { Key = null, Value = "no key"u8.ToArray() }),
                (first, 2, new() { Key = "tombstone"u8.ToArray(), Value = null }),
                (first, 0, new() { Key = [], Value = [] }),
                (second, 0, new()
                {
                    Key = "k"u8.ToArray(),
                    Value = new byte[70_000],
                    Headers = new Headers { { "trace-id", "abc"u8.ToArray() }, { "null-header", null }, { "empty", [] }, { "ünï", [1, 2, 3] }, { "trace-id", "again"u8.ToArray() } },
                }),
            };
            foreach (var (topic, partition, message) in messages)
            {
                await producer.ProduceAsync(new TopicPartition(topic, partition), message);
            }
        }

        var partitions = Enumerable.Range(0, 3).Select(p => new TopicPartitionOffset(first, p, Offset.Beginning)).Append(new TopicPartitionOffset(second, 0, Offset.Beginning)).ToList();
        var viaClient = Collect(cluster, partitions, direct: false);
        var viaDirect = Collect(cluster, partitions, direct: true);

        Assert.Equal(5, viaClient.Records.Count);
        Assert.Equal(viaClient.Records.Count, viaDirect.Records.Count);
        for (var i = 0; i < viaClient.Records.Count; i++)
        {
            var e = viaClient.Records[i];
            var a = viaDirect.Records[i];
            Assert.Equal((e.Topic, e.Partition, e.Offset, e.TimestampMs), (a.Topic, a.Partition, a.Offset, a.TimestampMs));
            Assert.Equal(e.Key, a.Key);
            Assert.Equal(e.Value, a.Value);
            Assert.Equal(e.Headers?.Select(h => (h.Key, h.Value)), a.Headers?.Select(h => (h.Key, h.Value)));
        }

        // Null and empty stay apart, headers keep their order and repeats, the explicit timestamp arrives.
        Assert.Equal(1_700_000_000_001, viaDirect.Records.Single(r => r.Key is { Length: 2 }).TimestampMs);
        Assert.Null(viaDirect.Records.Single(r => r.Partition == 1).Key);
        Assert.Null(viaDirect.Records.Single(r => r.Partition == 2).Value);
        Assert.Empty(viaDirect.Records.Single(r => r.Key is { Length: 0 }).Value!);
        var withHeaders = viaDirect.Records.Single(r => r.Topic == second);
        Assert.Equal(["trace-id", "null-header", "empty", "ünï", "trace-id"], withHeaders.Headers!.Select(h => h.Key));
        Assert.Null(withHeaders.Headers![1].Value);
        Assert.Empty(withHeaders.Headers![2].Value!);
        Assert.Equal(70_000, withHeaders.Value!.Length);
        Assert.Null(viaDirect.Records.Single(r => r.Partition == 1).Headers);

        // Both paths see the end of each of the four partitions.
        Assert.Equal(4, viaClient.Eofs);
        Assert.Equal(4, viaDirect.Eofs);
    }

    [Fact]
    public void Poll_ConsumerError_IsReportedNotThrown()
    {
        using var cluster = new MockKafkaCluster();
        var config = KafkaTestHelpers.ConsumerConfig(cluster.BootstrapServers, KafkaTestHelpers.UniqueName("g"));
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        using var direct = DirectConsumer.TryCreate(consumer);
        Assert.NotNull(direct);
        // A topic that does not exist (auto-creation is off): librdkafka reports it as a consumer error event.
        consumer.Subscribe(KafkaTestHelpers.UniqueName("missing"));
        var deadline = Stopwatch.StartNew();
        Error? error = null;
        while (error is null && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            var result = direct.PollInPlace(100, out var record, out error);
            record.Dispose();
            Assert.NotEqual(PollResult.Record, result);
        }

        Assert.NotNull(error);
        Assert.Equal(ErrorCode.UnknownTopicOrPart, error.Code);
        Assert.False(string.IsNullOrEmpty(error.Reason));
        consumer.Close();
    }

    [Fact]
    public void Poll_AfterDispose_Throws()
    {
        using var cluster = new MockKafkaCluster();
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(KafkaTestHelpers.ConsumerConfig(cluster.BootstrapServers, "g")).Build();
        var direct = DirectConsumer.TryCreate(consumer)!;
        direct.Dispose();
        Assert.Throws<ObjectDisposedException>(() => direct.PollInPlace(0, out _, out _));
    }

    private static (List<ConsumedRecord> Records, int Eofs) Collect(MockKafkaCluster cluster, List<TopicPartitionOffset> partitions, bool direct)
    {
        var config = KafkaTestHelpers.ConsumerConfig(cluster.BootstrapServers, KafkaTestHelpers.UniqueName("g"));
        config.EnablePartitionEof = true;
        using var consumer = new ConsumerBuilder<byte[]?, byte[]?>(config).Build();
        using var native = direct ? DirectConsumer.TryCreate(consumer) ?? throw new InvalidOperationException("the direct consume path is not available") : null;
        consumer.Assign(partitions);
        var records = new List<ConsumedRecord>();
        var eofs = 0;
        var deadline = Stopwatch.StartNew();
        while (eofs < partitions.Count && deadline.Elapsed < TimeSpan.FromSeconds(30))
        {
            if (native is not null)
            {
                var result = native.PollInPlace(100, out var record, out var error);
                using (record)
                {
                    Assert.Null(error);
                    if (result == PollResult.Record)
                    {
                        records.Add(record.ToRecord());
                    }
                    else if (result == PollResult.PartitionEof)
                    {
                        eofs++;
                    }
                }

                continue;
            }

            var r = consumer.Consume(100);
            if (r is { IsPartitionEOF: true })
            {
                eofs++;
            }
            else if (r is not null)
            {
                records.Add(ConsumedRecord.From(r));
            }
        }

        consumer.Close();
        return ([.. records.OrderBy(r => r.Topic, StringComparer.Ordinal).ThenBy(r => r.Partition).ThenBy(r => r.Offset)], eofs);
    }
}
