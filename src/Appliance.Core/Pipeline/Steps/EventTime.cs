using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Appliance.Core.Records;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>Event time and the tumbling-window arithmetic shared by the windowed steps.</summary>
internal sealed class EventTime(FieldPath? field)
{
    /// <summary>The event time of a record, Unix epoch milliseconds: the configured field, or the record timestamp.</summary>
    public long Of(RecordContext context)
    {
        if (field is null)
        {
            return context.TimestampMs;
        }

        if (!field.TryGet(context.Value, out var node) || node is null)
        {
            throw new PipelineDataException(PipelineDataException.MissingField, $"the event time field '{field}' is missing");
        }

        if (node is JsonValue v)
        {
            switch (v.GetValueKind())
            {
                case JsonValueKind.Number:
                    var d = v.GetValue<double>();
                    if (double.IsFinite(d) && Math.Abs(d) < 1e16)
                    {
                        return (long)Math.Floor(d);
                    }

                    break;
                case JsonValueKind.String
                    when DateTimeOffset.TryParse(v.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var t):
                    return t.ToUnixTimeMilliseconds();
            }
        }

        throw new PipelineDataException(
            PipelineDataException.WrongType,
            $"the event time field '{field}' is {node.GetValueKind().ToString().ToLowerInvariant()} {Shorten(JsonWire.ToText(node))}, not epoch milliseconds or an ISO-8601 time");
    }

    public static long WindowStart(long eventTimeMs, long windowMs)
    {
        var r = eventTimeMs % windowMs;
        return r < 0 ? eventTimeMs - r - windowMs : eventTimeMs - r;
    }

    public static long Watermark(long clock, long latenessMs) => clock == long.MinValue ? long.MinValue : clock - latenessMs;

    public static string Shorten(string s) => s.Length <= 40 ? s : s[..40] + "...";
}

/// <summary>
/// A step whose state is tumbling windows closed by a per-partition event-time watermark. It reports, per source
/// partition, the oldest offset still held by an open window and the clock to restore when rebuilding; see
/// docs/pipeline.md, "Exactly-once with windows".
/// </summary>
internal interface IWindowedStep
{
    /// <summary>The first offset of the oldest open window (null: none), and the step's clock (highest event time) just before that record was taken (or now, when none is open).</summary>
    (long? OldestOpenOffset, long ClockMs) GetState(SourcePartition partition);

    /// <summary>Starts a partition's state afresh with the given clock (before replaying from the checkpoint).</summary>
    void Restore(SourcePartition partition, long clockMs);
}

/// <summary>A window (or bucket) a windowed step holds open.</summary>
internal interface IOpenWindow
{
    /// <summary>The source offset of the first record in it.</summary>
    long FirstOffset { get; }

    /// <summary>The step's clock just before that record was taken.</summary>
    long ClockAtOpen { get; }
}

/// <summary>What a windowed step keeps per source partition whatever its windows hold: its clock and its open windows by first offset.</summary>
/// <typeparam name="TWindow">The step's window type.</typeparam>
internal abstract class WindowedPartitionState<TWindow>
    where TWindow : IOpenWindow
{
    /// <summary>The highest event time seen in the partition.</summary>
    public long Clock { get; set; } = long.MinValue;

    /// <summary>The open windows by the offset of their first record.</summary>
    public SortedDictionary<long, TWindow> ByFirstOffset { get; } = [];

    /// <summary>
    /// <see cref="IWindowedStep.GetState"/> of a partition: its oldest open window's first offset and the clock then,
    /// else no offset and the clock now; (null, <see cref="long.MinValue"/>) for a partition not seen yet.
    /// </summary>
    public static (long? OldestOpenOffset, long ClockMs) StateOf(WindowedPartitionState<TWindow>? state)
    {
        if (state is null)
        {
            return (null, long.MinValue);
        }

        if (state.ByFirstOffset.Count == 0)
        {
            return (null, state.Clock);
        }

        var oldest = state.ByFirstOffset.First().Value;
        return (oldest.FirstOffset, oldest.ClockAtOpen);
    }
}
