using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Appliance.Core.Records;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>
/// Drops repeats within a tumbling event-time window per source partition: a record passes only if no earlier
/// record in the same window had the same identity (the id field, or key and value bytes). Windows close like
/// downsample's (watermark = highest event time minus allowed lateness); a record for a closed window passes
/// unchanged (it cannot be checked any more).
/// </summary>
internal sealed class DedupeStep(long windowMs, long latenessMs, EventTime eventTime, FieldPath? idField) : IPipelineStep, IWindowedStep
{
    private readonly Dictionary<SourcePartition, PartitionState> _partitions = [];

    public void Invoke(RecordContext context, StepDelegate next)
    {
        var et = eventTime.Of(context);
        var id = Identity(context);
        if (!_partitions.TryGetValue(context.Source.SourcePartition, out var state))
        {
            state = new PartitionState();
            _partitions.Add(context.Source.SourcePartition, state);
        }

        var clockBefore = state.Clock;
        state.Clock = Math.Max(state.Clock, et);
        var watermark = EventTime.Watermark(state.Clock, latenessMs);
        while (state.ByEnd.TryPeek(out var b, out var end) && end <= watermark)
        {
            state.ByEnd.Dequeue();
            state.Open.Remove(b.Start);
            state.ByFirstOffset.Remove(b.FirstOffset);
        }

        var start = EventTime.WindowStart(et, windowMs);
        if (start + windowMs <= watermark)
        {
            next(context);
            return;
        }

        if (!state.Open.TryGetValue(start, out var bucket))
        {
            bucket = new Bucket(start, context.Source.Offset, clockBefore);
            state.Open.Add(start, bucket);
            state.ByEnd.Enqueue(bucket, start + windowMs);
            state.ByFirstOffset.Add(bucket.FirstOffset, bucket);
        }

        if (bucket.Seen.Add(id))
        {
            next(context);
        }
    }

    public (long? OldestOpenOffset, long ClockMs) GetState(SourcePartition partition) =>
        PartitionState.StateOf(_partitions.GetValueOrDefault(partition));

    public void Restore(SourcePartition partition, long clockMs) => _partitions[partition] = new PartitionState { Clock = clockMs };

    private UInt128 Identity(RecordContext context)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        if (idField is not null)
        {
            if (!idField.TryGet(context.Value, out var node) || node is null)
            {
                throw new PipelineDataException(PipelineDataException.MissingField, $"the id field '{idField}' is missing");
            }

            SHA256.HashData(Encoding.UTF8.GetBytes(JsonWire.ToText(node)), digest);
        }
        else
        {
            // Length-prefix the key so (key "ab", value "c") and (key "a", value "bc") differ.
            var key = context.Key ?? [];
            var value = context.GetValueBytes() ?? [];
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Span<byte> len = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(len, context.Key is null ? -1 : key.Length);
            hash.AppendData(len);
            hash.AppendData(key);
            hash.AppendData(value);
            hash.GetHashAndReset(digest);
        }

        return BinaryPrimitives.ReadUInt128LittleEndian(digest);
    }

    private sealed class PartitionState : WindowedPartitionState<Bucket>
    {
        public Dictionary<long, Bucket> Open { get; } = [];

        public PriorityQueue<Bucket, long> ByEnd { get; } = new();
    }

    private sealed class Bucket(long start, long firstOffset, long clockAtOpen) : IOpenWindow
    {
        public long Start { get; } = start;

        public long FirstOffset { get; } = firstOffset;

        public long ClockAtOpen { get; } = clockAtOpen;

        public HashSet<UInt128> Seen { get; } = [];
    }
}
