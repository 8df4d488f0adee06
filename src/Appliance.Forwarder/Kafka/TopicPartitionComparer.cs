using Appliance.Core.Records;
using Confluent.Kafka;

namespace Appliance.Forwarder.Kafka;

/// <summary>A <see cref="PartitionKeyComparer{T}"/> for Confluent.Kafka's <see cref="TopicPartition"/> keys.</summary>
internal sealed class TopicPartitionComparer : PartitionKeyComparer<TopicPartition>
{
    /// <inheritdoc />
    protected override string TopicOf(TopicPartition key) => key.Topic;

    /// <inheritdoc />
    protected override int PartitionOf(TopicPartition key) => key.Partition.Value;
}
