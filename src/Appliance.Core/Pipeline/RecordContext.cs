using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Records;

namespace Appliance.Core.Pipeline;

/// <summary>
/// The record a step works on. The JSON value is parsed at most once per record, lazily, on the first access to
/// <see cref="Value"/>, and shared by all steps; it is serialized once at the end of the chain, only if a step
/// called <see cref="MarkValueChanged"/> (otherwise the original bytes are forwarded unchanged).
/// Not thread-safe: it belongs to the one record in flight.
/// </summary>
public sealed class RecordContext
{
    private readonly byte[]? _valueBytes;
    private JsonObject? _value;
    private bool _valueChanged;
    private List<RecordHeader>? _headers;
    private string? _keyString;
    private byte[]? _key;

    internal RecordContext(EdgeRecord input, RouteInfo route, PipelineOutputKind kind = PipelineOutputKind.Record)
    {
        Input = input;
        RouteInfo = route;
        _valueBytes = input.Value;
        _key = input.Key;
        TimestampMs = input.TimestampMs;
        Kind = kind;
    }

    private RecordContext(RecordContext origin, byte[]? key, JsonObject value, long timestampMs, IEnumerable<RecordHeader> headers, PipelineOutputKind kind)
    {
        Input = origin.Input;
        RouteInfo = origin.RouteInfo;
        _key = key;
        _value = value;
        _valueChanged = true;
        _headers = [.. headers];
        TimestampMs = timestampMs;
        Kind = kind;
    }

    internal RouteInfo RouteInfo { get; }

    /// <summary>The input record as read from the edge broker (never changed by steps).</summary>
    public EdgeRecord Input { get; }

    /// <summary>The edge position of the input record.</summary>
    public SourcePosition Source => Input.Source;

    /// <summary>The route name.</summary>
    public string Route => RouteInfo.Name;

    /// <summary>The route's lane.</summary>
    public string Lane => RouteInfo.Lane;

    /// <summary>The site identifier from <see cref="PipelineOptions.SiteId"/>.</summary>
    public string SiteId => RouteInfo.SiteId;

    /// <summary>The clock for steps that need wall time (windowing uses event time, not this).</summary>
    public TimeProvider TimeProvider => RouteInfo.TimeProvider;

    /// <summary>What this record will be output as; steps set <see cref="PipelineOutputKind.Late"/> or <see cref="PipelineOutputKind.Aggregate"/>.</summary>
    public PipelineOutputKind Kind { get; set; }

    /// <summary>The record timestamp, Unix epoch milliseconds; starts as the input's.</summary>
    public long TimestampMs { get; set; }

    /// <summary>The record key; starts as the input's. Setting it replaces the key of the output.</summary>
    public byte[]? Key
    {
        get => _key;
        set
        {
            _key = value;
            _keyString = null;
        }
    }

    /// <summary>The key as UTF-8 text ("" when there is no key).</summary>
    public string KeyString => _keyString ??= _key is null ? string.Empty : System.Text.Encoding.UTF8.GetString(_key);

    /// <summary>True when the record has a value (it is not a tombstone).</summary>
    public bool HasValue => _value is not null || _valueBytes is not null;

    /// <summary>True once a step has read or set <see cref="Value"/>.</summary>
    public bool IsValueParsed => _value is not null;

    /// <summary>
    /// The value as a JSON object, parsed on first access. Throws <see cref="PipelineDataException"/> (classes
    /// <c>MissingValue</c>, <c>InvalidJson</c>, <c>NotAnObject</c>) when it is not one; the pipeline turns that
    /// into a dead letter. A step that changes the object must call <see cref="MarkValueChanged"/>.
    /// </summary>
    public JsonObject Value => _value ??= Parse();

    /// <summary>Records that the value object was changed, so it is serialized at the end of the chain.</summary>
    public void MarkValueChanged() => _valueChanged = true;

    /// <summary>Replaces the value object (and marks it changed).</summary>
    /// <param name="value">The new value.</param>
    public void SetValue(JsonObject value)
    {
        ArgumentNullException.ThrowIfNull(value);
        _value = value;
        _valueChanged = true;
    }

    /// <summary>The value as it would be output now: the original bytes if unchanged, else the serialized object.</summary>
    public byte[]? GetValueBytes() => _valueChanged && _value is not null ? JsonWire.Serialize(_value) : _valueBytes;

    /// <summary>The headers (copied from the input on first access; change freely).</summary>
    public IList<RecordHeader> Headers => _headers ??= [.. Input.Headers];

    /// <summary>The value of the LAST header named <paramref name="name"/> as UTF-8 text, or null when absent or null.</summary>
    /// <param name="name">The header name (case-sensitive, as in Kafka).</param>
    public string? GetHeader(string name)
    {
        IReadOnlyList<RecordHeader> list = _headers is null ? Input.Headers : _headers;
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (list[i].Key == name)
            {
                return list[i].Value is { } v ? System.Text.Encoding.UTF8.GetString(v) : null;
            }
        }

        return null;
    }

    /// <summary>True when a header named <paramref name="name"/> exists.</summary>
    /// <param name="name">The header name.</param>
    public bool HasHeader(string name)
    {
        IReadOnlyList<RecordHeader> list = _headers is null ? Input.Headers : _headers;
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Key == name)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Replaces every header named <paramref name="name"/> with one header holding <paramref name="value"/> (UTF-8).</summary>
    /// <param name="name">The header name.</param>
    /// <param name="value">The text, or null for a null header value.</param>
    public void SetHeader(string name, string? value)
    {
        var headers = Headers;
        for (var i = headers.Count - 1; i >= 0; i--)
        {
            if (headers[i].Key == name)
            {
                headers.RemoveAt(i);
            }
        }

        headers.Add(new RecordHeader(name, value is null ? null : System.Text.Encoding.UTF8.GetBytes(value)));
    }

    /// <summary>
    /// Creates a new record in the same route and at the same source position (for steps that emit records of
    /// their own, such as aggregates); pass it to <c>next</c> to send it down the rest of the chain.
    /// </summary>
    /// <param name="key">The key.</param>
    /// <param name="value">The value object.</param>
    /// <param name="timestampMs">The timestamp, Unix epoch milliseconds.</param>
    /// <param name="headers">The headers.</param>
    /// <param name="kind">The output kind.</param>
    public RecordContext Derive(byte[]? key, JsonObject value, long timestampMs, IEnumerable<RecordHeader> headers, PipelineOutputKind kind)
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(headers);
        return new RecordContext(this, key, value, timestampMs, headers, kind);
    }

    /// <summary>The output record: current key, value, headers and timestamp, at the input's source position.</summary>
    internal EdgeRecord ToRecord(string? destinationTopic) =>
        new(Input.Source, TimestampMs, _key, GetValueBytes(), _headers is null ? Input.Headers : _headers, destinationTopic);

    private JsonObject Parse()
    {
        if (_valueBytes is null)
        {
            throw new PipelineDataException(PipelineDataException.MissingValue, "the record has no value (tombstone)");
        }

        JsonNode? node;
        try
        {
            node = JsonNode.Parse(_valueBytes, documentOptions: JsonWire.DocumentOptions);

            // JsonObject builds its property table lazily and only then rejects duplicate names; do it here so a
            // duplicate top-level property is reported as invalid JSON rather than as a failure of some step.
            _ = (node as JsonObject)?.Count;
        }
        catch (JsonException ex)
        {
            throw new PipelineDataException(PipelineDataException.InvalidJson, "the value is not valid JSON: " + ex.Message, ex);
        }
        catch (ArgumentException ex)
        {
            throw new PipelineDataException(PipelineDataException.InvalidJson, "the value has a duplicate property: " + ex.Message, ex);
        }

        return node as JsonObject
            ?? throw new PipelineDataException(PipelineDataException.NotAnObject, $"the value is JSON {Kind(node)}, not an object");

        static string Kind(JsonNode? n) => n is null ? "null" : n.GetValueKind().ToString().ToLowerInvariant();
    }
}
