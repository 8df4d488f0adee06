using System.Text;
using Appliance.TestKit;
using Confluent.Kafka;

namespace Appliance.IntegrationTests.TestKit;

/// <summary>Producing and checking small keyed record sets in the kit's own tests.</summary>
internal static class TestRecords
{
    public static IReadOnlyList<(string Key, string Value)> Keyed(int count, int keys = 5) =>
        [.. Enumerable.Range(0, count).Select(i => ($"key-{i % keys}", $"value-{i}"))];

    public static async Task ProduceAsync(IKafkaTestCluster cluster, string topic, IEnumerable<(string Key, string Value)> records)
    {
        using var producer = new ProducerBuilder<string, string>(cluster.ProducerConfig()).Build();
        foreach (var (key, value) in records)
        {
            var result = await producer.ProduceAsync(topic, new Message<string, string> { Key = key, Value = value });
            Assert.Equal(PersistenceStatus.Persisted, result.Status);
        }
    }

    public static string Text(byte[]? bytes) => bytes is null ? "<null>" : Encoding.UTF8.GetString(bytes);

    /// <summary>Asserts the read-back holds exactly the expected records and keeps the produced order per key.</summary>
    public static void AssertSameRecordsInKeyOrder(
        IReadOnlyList<(string Key, string Value)> expected, IReadOnlyList<ConsumeResult<byte[], byte[]>> actual)
    {
        var read = actual.Select(r => (Key: Text(r.Message.Key), Value: Text(r.Message.Value))).ToList();
        Assert.Equal(expected.Count, read.Count);
        foreach (var key in expected.Select(e => e.Key).Distinct())
        {
            Assert.Equal(
                expected.Where(e => e.Key == key).Select(e => e.Value),
                read.Where(r => r.Key == key).Select(r => r.Value));
        }
    }
}
