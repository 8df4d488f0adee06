using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Appliance.Buffer;
using Appliance.Core.Records;
using Appliance.Forwarder.Kafka;
using Confluent.Kafka;

namespace Appliance.Forwarder.Drain;

/// <summary>
/// Produces a forwarded record with its provenance header in one call to librdkafka's <c>rd_kafka_produceva</c>, on
/// the native handle of a Confluent.Kafka producer. Confluent.Kafka's <c>Produce</c> marshals every header on its own
/// (a UTF-8 copy of the name, two pinned handles and a native call each), takes the header value as a new array and
/// marshals the topic name per record (docs/benchmarks.md, "Producer" and "Forwarder"); here the header's value is
/// formatted on the stack.
/// The record that reaches central is the same: librdkafka copies key, value and
/// headers as it does for Confluent.Kafka (<c>RD_KAFKA_MSG_F_COPY</c>), the timestamp is the record's create time and
/// the partition is left to the partitioner. Used only without per-record delivery reports (the transactional
/// producer: a failed record fails the commit); the checkpoints and gap markers still go through Confluent.Kafka.
/// </summary>
/// <remarks>
/// When <see cref="NativeClient"/> cannot reach the native handle or the functions, <see cref="TryCreate"/> returns
/// null and the drain produces through Confluent.Kafka, with the same result.
/// </remarks>
internal sealed unsafe class DirectProducer : IDisposable
{
    private const int VtypeTopic = 1;
    private const int VtypePartition = 3;
    private const int VtypeValue = 4;
    private const int VtypeKey = 5;
    private const int VtypeMsgFlags = 7;
    private const int VtypeTimestamp = 8;
    private const int VtypeHeader = 9;
    private const int MsgFCopy = 0x2;
    private const int PartitionUnassigned = -1;

    // The provenance header's name as NUL-terminated UTF-8 for librdkafka, allocated once for the process.
    private static readonly nint ProvenanceName = Utf8Z(ProvenanceHeaders.Name);

    private static readonly Native? Functions = Native.Resolve();

    private readonly IProducer<byte[]?, byte[]?> _producer;
    private readonly SafeHandle _handle;
    private readonly nint _rk;
    private readonly Dictionary<string, nint> _topics = new(StringComparer.Ordinal);
    private bool _disposed;

    private DirectProducer(IProducer<byte[]?, byte[]?> producer, SafeHandle handle)
    {
        _producer = producer;
        _handle = handle;
        _rk = handle.DangerousGetHandle();
    }

    /// <summary>The direct path for <paramref name="producer"/>, or null when it is not available (see the remarks).</summary>
    public static DirectProducer? TryCreate(IProducer<byte[]?, byte[]?> producer)
    {
        ArgumentNullException.ThrowIfNull(producer);
        if (Functions is null)
        {
            return null;
        }

        return NativeClient.AddRef(producer) is { } handle ? new DirectProducer(producer, handle) : null;
    }

    /// <summary>
    /// Produces <paramref name="record"/> to <paramref name="topic"/> with the record's own headers and then the
    /// provenance header, exactly as <see cref="ProvenanceHeaders.Build(EdgeRecord, byte[], byte[], byte[])"/>
    /// lists them. While the client's queue is full it lets the producer send (<c>Poll</c>) and tries again; returns
    /// librdkafka's error code otherwise (<see cref="ErrorCode.NoError"/> once the record is queued).
    /// </summary>
    public ErrorCode Produce(string topic, EdgeRecord record, byte[] site, byte[] sourceTopic, byte[] lane)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Produce(topic, record.Source.Partition, record.Source.Offset, record.TimestampMs, ref Data(record.Key), record.Key?.Length ?? 0,
            ref Data(record.Value), record.Value?.Length ?? 0, record.Headers, site, sourceTopic, lane);
    }

    /// <summary>
    /// <see cref="Produce(string, EdgeRecord, byte[], byte[], byte[])"/> for a record read in place from its batch
    /// (no copy of key and value is made before librdkafka's own).
    /// </summary>
    public ErrorCode Produce(string topic, RecordView record, byte[] site, byte[] sourceTopic, byte[] lane) =>
        Produce(topic, record.Partition, record.Offset, record.TimestampMs, ref Data(record.Key, record.KeyIsNull), record.Key.Length,
            ref Data(record.Value, record.ValueIsNull), record.Value.Length, record.HeaderCount == 0 ? [] : record.ReadHeaders(), site, sourceTopic, lane);

    // key/value: a null reference for null (a NULL pointer); else the first byte, also of an empty one (pinned, a valid
    // pointer, so empty stays empty).
    private ErrorCode Produce(string topic, int sourcePartition, long sourceOffset, long timestampMs, ref byte keyData, int keyLength, ref byte valueData, int valueLength, IReadOnlyList<RecordHeader> own, byte[] site, byte[] sourceTopic, byte[] lane)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(sourceTopic);
        ArgumentNullException.ThrowIfNull(lane);
        var vus = stackalloc Vu[7 + own.Count];
        Span<byte> provenance = stackalloc byte[ProvenanceHeaders.MaxValueLength];
        var provenanceLength = ProvenanceHeaders.Write(provenance, site, sourceTopic, sourcePartition, sourceOffset, timestampMs, lane);
        // The record's own headers (edge headers, rare): a NUL-terminated copy of each name and the value, pinned.
        var pins = own.Count == 0 ? null : new GCHandle[own.Count * 2];
        try
        {
            var n = 0;
            vus[n++] = new Vu(VtypeTopic, TopicPointer(topic));
            vus[n++] = Vu.Int(VtypePartition, PartitionUnassigned);
            vus[n++] = Vu.Int(VtypeMsgFlags, MsgFCopy);
            vus[n++] = Vu.Long(VtypeTimestamp, timestampMs);
            for (var i = 0; i < own.Count; i++)
            {
                var name = new byte[Encoding.UTF8.GetByteCount(own[i].Key) + 1];
                Encoding.UTF8.GetBytes(own[i].Key, name);
                pins![2 * i] = GCHandle.Alloc(name, GCHandleType.Pinned);
                byte* value = null;
                if (own[i].Value is { } v)
                {
                    pins[(2 * i) + 1] = GCHandle.Alloc(v, GCHandleType.Pinned);
                    value = (byte*)pins[(2 * i) + 1].AddrOfPinnedObject();
                }

                vus[n++] = Vu.Header(pins[2 * i].AddrOfPinnedObject(), value, own[i].Value?.Length ?? 0);
            }

            fixed (byte* key = &keyData)
            fixed (byte* value = &valueData)
            fixed (byte* p = provenance)
            {
                vus[n++] = Vu.Mem(VtypeKey, key, keyLength);
                vus[n++] = Vu.Mem(VtypeValue, value, valueLength);
                vus[n++] = Vu.Header(ProvenanceName, p, provenanceLength);
                while (true)
                {
                    var error = Functions!.Produceva(_rk, vus, (nuint)n);
                    if (error == 0)
                    {
                        return ErrorCode.NoError;
                    }

                    var code = (ErrorCode)Functions.ErrorCode(error);
                    Functions.ErrorDestroy(error);
                    if (code != ErrorCode.Local_QueueFull)
                    {
                        return code;
                    }

                    _producer.Poll(TimeSpan.FromMilliseconds(10));
                }
            }
        }
        finally
        {
            if (pins is not null)
            {
                foreach (var pin in pins)
                {
                    if (pin.IsAllocated)
                    {
                        pin.Free();
                    }
                }
            }
        }
    }

    /// <summary>Releases the topic names and the reference on the producer's native handle.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var p in _topics.Values)
        {
            Marshal.FreeCoTaskMem(p);
        }

        _topics.Clear();
        _lastTopic = null;
        _lastTopicPointer = 0;
        _handle.DangerousRelease();
    }

    private nint TopicPointer(string topic)
    {
        // Runs of records go to one topic (the same string instance): no hashing for those.
        if (ReferenceEquals(topic, _lastTopic))
        {
            return _lastTopicPointer;
        }

        _lastTopicPointer = TopicPointerOf(topic);
        _lastTopic = topic;
        return _lastTopicPointer;
    }

    private string? _lastTopic;
    private nint _lastTopicPointer;

    private nint TopicPointerOf(string topic)
    {
        ref var p = ref CollectionsMarshal.GetValueRefOrAddDefault(_topics, topic, out var exists);
        if (!exists)
        {
            p = Utf8Z(topic);
        }

        return p;
    }

    /// <summary>
    /// A reference to the first element, also of an empty array (pinned, it is a valid pointer, so an empty key or value
    /// stays empty rather than null); a null reference (a NULL pointer) for null.
    /// </summary>
    private static ref byte Data(byte[]? array) => ref array is null ? ref Unsafe.NullRef<byte>() : ref MemoryMarshal.GetArrayDataReference(array);

    /// <summary><see cref="Data(byte[])"/> for bytes read in place (an empty span of a batch still points into it).</summary>
    private static ref byte Data(ReadOnlySpan<byte> bytes, bool isNull) => ref isNull ? ref Unsafe.NullRef<byte>() : ref MemoryMarshal.GetReference(bytes);

    private static nint Utf8Z(string s) => Marshal.StringToCoTaskMemUTF8(s);

    /// <summary>librdkafka's <c>rd_kafka_vu_t</c>: a value type and a 64-byte union.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 72)]
    private readonly struct Vu(int type, nint a, nint b = 0, nint c = 0)
    {
        [FieldOffset(0)]
        private readonly int _type = type;

        [FieldOffset(8)]
        private readonly nint _a = a;

        [FieldOffset(16)]
        private readonly nint _b = b;

        [FieldOffset(24)]
        private readonly nint _c = c;

        public static Vu Int(int type, int value) => new(type, value);

        public static Vu Long(int type, long value) => new(type, (nint)value);

        public static Vu Mem(int type, byte* pointer, int length) => new(type, (nint)pointer, length);

        // A header: name, value, size (a null value is NULL with size 0, as Confluent.Kafka passes it).
        public static Vu Header(nint name, byte* value, int length) => new(VtypeHeader, name, (nint)value, length);
    }

    /// <summary>The three librdkafka functions, resolved from the library Confluent.Kafka loads.</summary>
    private sealed class Native
    {
        public required delegate* unmanaged[Cdecl]<nint, Vu*, nuint, nint> Produceva { get; init; }

        public required delegate* unmanaged[Cdecl]<nint, int> ErrorCode { get; init; }

        public required delegate* unmanaged[Cdecl]<nint, void> ErrorDestroy { get; init; }

        public static Native? Resolve()
        {
            var produceva = NativeClient.Export("rd_kafka_produceva");
            var code = NativeClient.Export("rd_kafka_error_code");
            var destroy = NativeClient.Export("rd_kafka_error_destroy");
            if (produceva == 0 || code == 0 || destroy == 0)
            {
                return null;
            }

            return new Native
            {
                Produceva = (delegate* unmanaged[Cdecl]<nint, Vu*, nuint, nint>)produceva,
                ErrorCode = (delegate* unmanaged[Cdecl]<nint, int>)code,
                ErrorDestroy = (delegate* unmanaged[Cdecl]<nint, void>)destroy,
            };
        }
    }
}
