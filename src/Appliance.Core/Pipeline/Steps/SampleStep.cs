using Appliance.Core.Records;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>Keeps 1 record in N per key: by a hash of key and offset (stateless), or by an exact per-key count.</summary>
internal sealed class SampleStep(int n, bool count) : IPipelineStep
{
    private readonly Dictionary<(SourcePartition, string), long> _counts = [];

    public void Invoke(RecordContext context, StepDelegate next)
    {
        bool keep;
        if (count)
        {
            var k = (context.Source.SourcePartition, context.KeyString);
            _counts.TryGetValue(k, out var seen);
            _counts[k] = seen + 1;
            keep = seen % n == 0;
        }
        else
        {
            keep = Hash(context.Key, context.Source.Offset) % (ulong)n == 0;
        }

        if (keep)
        {
            next(context);
        }
    }

    /// <summary>FNV-1a 64 over the key bytes and the offset (little-endian), finished with a 64-bit mix so low bits are uniform.</summary>
    internal static ulong Hash(byte[]? key, long offset)
    {
        var h = 14695981039346656037UL;
        if (key is not null)
        {
            foreach (var b in key)
            {
                h = (h ^ b) * 1099511628211UL;
            }
        }

        for (var i = 0; i < 8; i++)
        {
            h = (h ^ (byte)(offset >> (8 * i))) * 1099511628211UL;
        }

        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
