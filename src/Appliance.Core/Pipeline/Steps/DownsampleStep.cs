using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Records;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>
/// Tumbling event-time windows per (source partition, key): each input record is absorbed into its window; a
/// window is emitted as one aggregate record (count, and count/min/max/avg/last per numeric field) when the
/// partition's watermark (highest event time seen minus the allowed lateness) reaches the window end. A record
/// whose window end is at or below the watermark is late: it goes on unchanged, marked late.
/// </summary>
internal sealed class DownsampleStep(long windowMs, long latenessMs, EventTime eventTime, FieldPath[] fields) : IPipelineStep, IWindowedStep
{
    private readonly Dictionary<SourcePartition, PartitionState> _partitions = [];
    private readonly List<(string Name, double Value)> _scratch = [];
    private SourcePartition _lastPartition;
    private PartitionState? _last;

    public void Invoke(RecordContext context, StepDelegate next)
    {
        // Read everything from the record before touching state, so a poison record changes nothing.
        var et = eventTime.Of(context);
        _scratch.Clear();
        CollectNumbers(context.Value, _scratch);

        var state = State(context.Source.SourcePartition);
        var clockBefore = state.Clock;
        state.Clock = Math.Max(state.Clock, et);
        var watermark = EventTime.Watermark(state.Clock, latenessMs);

        while (state.ByEnd.TryPeek(out var w, out var end) && end.End <= watermark)
        {
            state.ByEnd.Dequeue();
            state.ByFirstOffset.Remove(w.FirstOffset);
            state.Open.Remove((w.KeyString, w.Start));
            next(context.Derive(w.Key, w.ToJson(context.Source.SourcePartition), w.Start, w.Headers(context.Source.SourcePartition), PipelineOutputKind.Aggregate));
        }

        var start = EventTime.WindowStart(et, windowMs);
        if (start + windowMs <= watermark)
        {
            context.Kind = PipelineOutputKind.Late;
            context.SetHeader(PipelineHeaders.Late, "true");
            next(context);
            return;
        }

        // A null key and an empty key are different keys.
        var keyString = context.Key is null ? "\0null" : context.KeyString;
        if (!state.Open.TryGetValue((keyString, start), out var window))
        {
            window = new Window(context.Key, keyString, start, start + windowMs, context.Source.Offset, clockBefore);
            state.Open.Add((keyString, start), window);
            state.ByEnd.Enqueue(window, (window.End, window.FirstOffset));
            state.ByFirstOffset.Add(window.FirstOffset, window);
        }

        window.Add(context.Source.Offset, _scratch);
    }

    public (long? OldestOpenOffset, long ClockMs) GetState(SourcePartition partition) =>
        PartitionState.StateOf(_partitions.GetValueOrDefault(partition));

    public void Restore(SourcePartition partition, long clockMs)
    {
        _partitions[partition] = new PartitionState { Clock = clockMs };
        _last = null;
    }

    private PartitionState State(SourcePartition partition)
    {
        if (_last is not null && _lastPartition == partition)
        {
            return _last;
        }

        if (!_partitions.TryGetValue(partition, out var state))
        {
            state = new PartitionState();
            _partitions.Add(partition, state);
        }

        _lastPartition = partition;
        return _last = state;
    }

    private void CollectNumbers(JsonObject value, List<(string Name, double Value)> into)
    {
        if (fields.Length == 0)
        {
            foreach (var (name, node) in value)
            {
                if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
                {
                    into.Add((name, v.GetValue<double>()));
                }
            }

            return;
        }

        foreach (var f in fields)
        {
            // A missing or null field is simply not counted for this record; any other non-number is an error.
            if (!f.TryGet(value, out var node) || node is null)
            {
                continue;
            }

            if (node is JsonValue v && v.GetValueKind() == JsonValueKind.Number)
            {
                into.Add((f.RelativeName, v.GetValue<double>()));
                continue;
            }

            throw new PipelineDataException(
                PipelineDataException.WrongType,
                $"the field '{f}' is {node.GetValueKind().ToString().ToLowerInvariant()} {EventTime.Shorten(JsonWire.ToText(node))}, not a number");
        }
    }

    private sealed class PartitionState : WindowedPartitionState<Window>
    {
        public Dictionary<(string Key, long Start), Window> Open { get; } = [];

        public PriorityQueue<Window, (long End, long FirstOffset)> ByEnd { get; } = new();
    }

    private sealed class Field
    {
        public long Count { get; set; }

        public double Min { get; set; } = double.PositiveInfinity;

        public double Max { get; set; } = double.NegativeInfinity;

        public double Sum { get; set; }

        public double Last { get; set; }
    }

    private sealed class Window(byte[]? key, string keyString, long start, long end, long firstOffset, long clockAtOpen) : IOpenWindow
    {
        private readonly Dictionary<string, Field> _fields = new(StringComparer.Ordinal);
        private readonly List<string> _order = [];

        public byte[]? Key { get; } = key;

        public string KeyString { get; } = keyString;

        public long Start { get; } = start;

        public long End { get; } = end;

        public long FirstOffset { get; } = firstOffset;

        public long LastOffset { get; private set; } = firstOffset;

        public long ClockAtOpen { get; } = clockAtOpen;

        public long Count { get; private set; }

        public void Add(long offset, List<(string Name, double Value)> values)
        {
            Count++;
            LastOffset = Math.Max(LastOffset, offset);
            foreach (var (name, v) in values)
            {
                if (!_fields.TryGetValue(name, out var f))
                {
                    f = new Field();
                    _fields.Add(name, f);
                    _order.Add(name);
                }

                f.Count++;
                f.Min = Math.Min(f.Min, v);
                f.Max = Math.Max(f.Max, v);
                f.Sum += v;
                f.Last = v;
            }
        }

        public string Id(SourcePartition p) =>
            $"{p.Topic}/{p.Partition}/{(Key is null ? "null" : Convert.ToHexStringLower(Key))}/{Start.ToString(CultureInfo.InvariantCulture)}";

        public JsonObject ToJson(SourcePartition p)
        {
            var fields = new JsonObject();
            foreach (var name in _order)
            {
                var f = _fields[name];
                fields[name] = new JsonObject
                {
                    ["count"] = f.Count,
                    ["min"] = f.Min,
                    ["max"] = f.Max,
                    ["avg"] = f.Sum / f.Count,
                    ["last"] = f.Last,
                };
            }

            return new JsonObject
            {
                ["windowStart"] = Start,
                ["windowEnd"] = End,
                ["count"] = Count,
                ["fields"] = fields,
                ["source"] = new JsonObject
                {
                    ["topic"] = p.Topic,
                    ["partition"] = p.Partition,
                    ["firstOffset"] = FirstOffset,
                    ["lastOffset"] = LastOffset,
                },
            };
        }

        public RecordHeader[] Headers(SourcePartition p) =>
        [
            Header(PipelineHeaders.WindowStart, Start.ToString(CultureInfo.InvariantCulture)),
            Header(PipelineHeaders.WindowEnd, End.ToString(CultureInfo.InvariantCulture)),
            Header(PipelineHeaders.WindowId, Id(p)),
            Header(PipelineHeaders.SourceRanges, $"{p.Topic}/{p.Partition}/{FirstOffset}-{LastOffset}"),
        ];

        private static RecordHeader Header(string name, string value) => new(name, System.Text.Encoding.UTF8.GetBytes(value));
    }
}
