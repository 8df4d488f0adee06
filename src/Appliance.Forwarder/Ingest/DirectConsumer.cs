using System.Runtime.InteropServices;
using System.Text;
using Appliance.Core.Records;
using Appliance.Forwarder.Kafka;
using Confluent.Kafka;

namespace Appliance.Forwarder.Ingest;

/// <summary>
/// Takes records from the edge consumer with librdkafka's <c>rd_kafka_consumer_poll</c> on the native handle of a
/// Confluent.Kafka consumer, and hands each one over where librdkafka holds it (<see cref="PollInPlace"/>), to be
/// appended from there or copied once into arrays of its own. Confluent.Kafka's
/// <c>Consume</c> returns the same data but builds seven objects per record on the way (a managed copy of the native
/// message struct, the topic name as a new string, the result, the message, a header collection and its list, the
/// partition), which at 100-byte records cost the forwarder about as much as the record itself (docs/benchmarks.md,
/// "Forwarder"). Only polling is direct: assignment, pause, resume, seek and commits stay with Confluent.Kafka, on
/// the same handle, and its error and log handlers are served by this poll as by its own.
/// </summary>
/// <remarks>
/// When <see cref="NativeClient"/> cannot reach the native handle or the functions, <see cref="TryCreate"/> returns
/// null and the ingest consumes through Confluent.Kafka, with the same result.
/// </remarks>
internal sealed unsafe class DirectConsumer : IDisposable
{
    private const int ErrPartitionEof = -191;
    private const int ErrFatal = -150;

    private static readonly Native? Functions = Native.Resolve();

    private readonly SafeHandle _handle;
    private readonly nint _rk;
    // Topic names by native topic object; each hit is checked against the native name, so a topic object freed and
    // its address reused for another topic cannot hand out the wrong name.
    private readonly Dictionary<nint, (byte[] Utf8, string Name)> _topics = [];
    private bool _disposed;

    private DirectConsumer(SafeHandle handle)
    {
        _handle = handle;
        _rk = handle.DangerousGetHandle();
    }

    /// <summary>The direct path for <paramref name="consumer"/>, or null when it is not available (see the remarks).</summary>
    public static DirectConsumer? TryCreate(IConsumer<byte[]?, byte[]?> consumer)
    {
        ArgumentNullException.ThrowIfNull(consumer);
        return Functions is not null && NativeClient.AddRef(consumer) is { } handle ? new DirectConsumer(handle) : null;
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMs"/> for the next record or event. Returns <see cref="PollResult.None"/>
    /// when there was none, <see cref="PollResult.PartitionEof"/> for an end-of-partition event,
    /// <see cref="PollResult.Error"/> with <paramref name="error"/> for a consumer error (not fatal: the client goes on), and
    /// <see cref="PollResult.Record"/> with <paramref name="record"/>, which reads the record in librdkafka's memory
    /// until it is disposed (dispose it in every case; for anything but a record it holds nothing;
    /// <see cref="NativeRecord.ToRecord"/> copies it). Throws <see cref="KafkaException"/> for a fatal error, as
    /// Confluent.Kafka's <c>Consume</c> does.
    /// </summary>
    public PollResult PollInPlace(int timeoutMs, out NativeRecord record, out Error? error)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        record = default;
        error = null;
        var m = Functions!.ConsumerPoll(_rk, timeoutMs);
        if (m is null)
        {
            return PollResult.None;
        }

        var keep = false;
        try
        {
            if (m->Err == ErrPartitionEof)
            {
                return PollResult.PartitionEof;
            }

            if (m->Err != 0)
            {
                // librdkafka puts the error's text in the payload.
                var reason = m->Payload is null ? new Error((ErrorCode)m->Err).Reason : Encoding.UTF8.GetString(m->Payload, (int)m->Len);
                if (m->Err == ErrFatal)
                {
                    throw new KafkaException(new Error(ErrorCode.Local_Fatal, reason, isFatal: true));
                }

                error = new Error((ErrorCode)m->Err, reason);
                return PollResult.Error;
            }

            int type;
            record = new NativeRecord((nint)m, TopicName(m->Rkt), Functions.MessageTimestamp(m, &type));
            keep = true;
            return PollResult.Record;
        }
        finally
        {
            if (!keep)
            {
                Functions.MessageDestroy(m);
            }
        }
    }

    /// <summary>Releases the reference on the consumer's native handle.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _handle.DangerousRelease();
    }

    private string TopicName(nint rkt)
    {
        var native = MemoryMarshal.CreateReadOnlySpanFromNullTerminated((byte*)Functions!.TopicName(rkt));
        ref var entry = ref CollectionsMarshal.GetValueRefOrAddDefault(_topics, rkt, out var exists);
        if (!exists || !native.SequenceEqual(entry.Utf8))
        {
            entry = (native.ToArray(), Encoding.UTF8.GetString(native));
        }

        return entry.Name;
    }

    /// <summary>The record's headers in order (null when it has none), as Confluent.Kafka's <c>Consume</c> reads them.</summary>
    private static List<RecordHeader>? Headers(Message* m)
    {
        nint headers;
        if (Functions!.MessageHeaders(m, &headers) != 0 || headers == 0)
        {
            return null;
        }

        List<RecordHeader>? list = null;
        for (nuint i = 0; ; i++)
        {
            byte* name;
            byte* value;
            nuint size;
            if (Functions.HeaderGetAll(headers, i, &name, &value, &size) != 0)
            {
                return list;
            }

            list ??= [];
            var key = Encoding.UTF8.GetString(MemoryMarshal.CreateReadOnlySpanFromNullTerminated(name));
            list.Add(new RecordHeader(key, value is null ? null : new ReadOnlySpan<byte>(value, (int)size).ToArray()));
        }
    }

    /// <summary>
    /// One record polled and still in librdkafka's memory: read it, then dispose it (which hands the memory back). The
    /// spans are valid until then.
    /// </summary>
    internal readonly struct NativeRecord : IDisposable
    {
        private readonly nint _message;

        internal NativeRecord(nint message, string topic, long timestampMs)
        {
            _message = message;
            Topic = topic;
            TimestampMs = timestampMs;
        }

        /// <summary>The edge topic.</summary>
        public string Topic { get; }

        /// <summary>The record's timestamp, Unix epoch milliseconds (-1 when the broker gave none).</summary>
        public long TimestampMs { get; }

        private Message* M => (Message*)_message;

        /// <summary>The partition.</summary>
        public int Partition => M->Partition;

        /// <summary>The offset.</summary>
        public long Offset => M->Offset;

        /// <summary>Whether the key is null (as opposed to empty).</summary>
        public bool KeyIsNull => M->Key is null;

        /// <summary>The key's bytes (empty when null).</summary>
        public ReadOnlySpan<byte> Key => M->Key is null ? default : new ReadOnlySpan<byte>(M->Key, (int)M->KeyLen);

        /// <summary>Whether the value is null (a tombstone), as opposed to empty.</summary>
        public bool ValueIsNull => M->Payload is null;

        /// <summary>The value's bytes (empty when null).</summary>
        public ReadOnlySpan<byte> Value => M->Payload is null ? default : new ReadOnlySpan<byte>(M->Payload, (int)M->Len);

        /// <summary>The record's headers in order, null when it has none.</summary>
        public List<RecordHeader>? ReadHeaders() => Headers(M);

        /// <summary>A copy that owns its arrays.</summary>
        public ConsumedRecord ToRecord() => new(Topic, Partition, Offset, TimestampMs, KeyIsNull ? null : Key.ToArray(), ValueIsNull ? null : Value.ToArray(), ReadHeaders());

        /// <summary>Hands the record's memory back to librdkafka (nothing for a default instance).</summary>
        public void Dispose()
        {
            if (_message != 0)
            {
                Functions!.MessageDestroy(M);
            }
        }
    }

    /// <summary>librdkafka's <c>rd_kafka_message_t</c> (the public part of it).</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Message
    {
        public int Err;
        public nint Rkt;
        public int Partition;
        public byte* Payload;
        public nuint Len;
        public byte* Key;
        public nuint KeyLen;
        public long Offset;
        public nint Private;
    }

    /// <summary>The librdkafka functions this path calls, resolved from the library Confluent.Kafka loads.</summary>
    private sealed class Native
    {
        public required delegate* unmanaged[Cdecl]<nint, int, Message*> ConsumerPoll { get; init; }

        public required delegate* unmanaged[Cdecl]<Message*, void> MessageDestroy { get; init; }

        public required delegate* unmanaged[Cdecl]<Message*, int*, long> MessageTimestamp { get; init; }

        public required delegate* unmanaged[Cdecl]<Message*, nint*, int> MessageHeaders { get; init; }

        public required delegate* unmanaged[Cdecl]<nint, nuint, byte**, byte**, nuint*, int> HeaderGetAll { get; init; }

        public required delegate* unmanaged[Cdecl]<nint, nint> TopicName { get; init; }

        public static Native? Resolve()
        {
            var poll = NativeClient.Export("rd_kafka_consumer_poll");
            var destroy = NativeClient.Export("rd_kafka_message_destroy");
            var timestamp = NativeClient.Export("rd_kafka_message_timestamp");
            var headers = NativeClient.Export("rd_kafka_message_headers");
            var getAll = NativeClient.Export("rd_kafka_header_get_all");
            var topicName = NativeClient.Export("rd_kafka_topic_name");
            if (poll == 0 || destroy == 0 || timestamp == 0 || headers == 0 || getAll == 0 || topicName == 0)
            {
                return null;
            }

            return new Native
            {
                ConsumerPoll = (delegate* unmanaged[Cdecl]<nint, int, Message*>)poll,
                MessageDestroy = (delegate* unmanaged[Cdecl]<Message*, void>)destroy,
                MessageTimestamp = (delegate* unmanaged[Cdecl]<Message*, int*, long>)timestamp,
                MessageHeaders = (delegate* unmanaged[Cdecl]<Message*, nint*, int>)headers,
                HeaderGetAll = (delegate* unmanaged[Cdecl]<nint, nuint, byte**, byte**, nuint*, int>)getAll,
                TopicName = (delegate* unmanaged[Cdecl]<nint, nint>)topicName,
            };
        }
    }
}

/// <summary>What one poll of the edge consumer returned.</summary>
internal enum PollResult
{
    /// <summary>Nothing within the timeout.</summary>
    None,

    /// <summary>A record.</summary>
    Record,

    /// <summary>An end-of-partition event.</summary>
    PartitionEof,

    /// <summary>A consumer error the client recovers from.</summary>
    Error,
}

/// <summary>One record taken from the edge, as the ingest needs it (either consume path fills it in).</summary>
internal readonly record struct ConsumedRecord(string Topic, int Partition, long Offset, long TimestampMs, byte[]? Key, byte[]? Value, List<RecordHeader>? Headers)
{
    /// <summary>From Confluent.Kafka's result.</summary>
    public static ConsumedRecord From(ConsumeResult<byte[]?, byte[]?> r) => new(
        r.Topic,
        r.Partition.Value,
        r.Offset.Value,
        r.Message.Timestamp.UnixTimestampMs,
        r.Message.Key,
        r.Message.Value,
        r.Message.Headers is { Count: > 0 } hs ? [.. hs.Select(h => new RecordHeader(h.Key, h.GetValueBytes()))] : null);
}
