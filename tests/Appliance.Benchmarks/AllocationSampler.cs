using System.Diagnostics.Tracing;

namespace Appliance.Benchmarks;

/// <summary>
/// Which types a window allocates, from the runtime's own sampling: the GC raises <c>GCAllocationTick</c> about every
/// 100 KB allocated, naming the type of the allocation that crossed the mark and the bytes since the previous
/// event. Summed by type over a window of millions of records this estimates bytes per record by type within a few
/// percent for the large contributors (single-digit bytes per record are noise). Costs little while enabled.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Dictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private bool _recording;

    /// <summary>Starts counting (events before this call are ignored).</summary>
    public void Start()
    {
        lock (_gate)
        {
            _bytes.Clear();
            _recording = true;
        }
    }

    /// <summary>Stops counting and returns the largest types, estimated bytes per record each.</summary>
    public string Stop(double records, int top = 12)
    {
        lock (_gate)
        {
            _recording = false;
            var total = _bytes.Values.Sum();
            return $"sampled {total / records:F0} B per record; by type: " + string.Join(" | ", _bytes
                .OrderByDescending(kv => kv.Value)
                .Take(top)
                .Select(kv => $"{kv.Key} {kv.Value / records:F0}"));
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null || e.PayloadNames is null)
        {
            return;
        }

        var type = e.PayloadNames.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
        var amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        var amount = amountIndex >= 0 ? Convert.ToInt64(e.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
        lock (_gate)
        {
            if (_recording)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
