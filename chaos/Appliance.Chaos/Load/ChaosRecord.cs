using System.Globalization;
using System.Text;

namespace Appliance.Chaos.Load;

/// <summary>
/// The identity every generated record carries in its value, so the verifier can recognise it at central whatever
/// happened on the way: <c>chaos1|{key}|{seq}|{producedAtMs}|</c> followed by padding up to the record size.
/// The key is also the Kafka message key; (key, seq) is the record's unique id.
/// </summary>
/// <param name="Key">Record key, e.g. <c>critical-k17</c> (unique per lane, so lane and key together are the stream).</param>
/// <param name="Sequence">Per-key sequence number, 0, 1, 2, ... in production order.</param>
/// <param name="ProducedAtMs">When the generator produced it, Unix epoch milliseconds.</param>
public readonly record struct ChaosRecord(string Key, long Sequence, long ProducedAtMs)
{
    /// <summary>Prefix of every chaos value (format version 1).</summary>
    public const string Magic = "chaos1|";

    /// <summary>The unique id, <c>{key}#{seq}</c>.</summary>
    public string Id => string.Create(CultureInfo.InvariantCulture, $"{Key}#{Sequence}");

    /// <summary>Encodes the value, padded with '.' to at least <paramref name="size"/> bytes.</summary>
    public byte[] Encode(int size)
    {
        var head = string.Create(CultureInfo.InvariantCulture, $"{Magic}{Key}|{Sequence}|{ProducedAtMs}|");
        var length = Math.Max(size, Encoding.ASCII.GetByteCount(head));
        var bytes = new byte[length];
        var n = Encoding.ASCII.GetBytes(head, bytes);
        bytes.AsSpan(n).Fill((byte)'.');
        return bytes;
    }

    /// <summary>Parses a value; false when it is not a chaos record (e.g. someone else's data, or a mangled value).</summary>
    public static bool TryParse(ReadOnlySpan<byte> value, out ChaosRecord record)
    {
        record = default;
        var magic = "chaos1|"u8;
        if (!value.StartsWith(magic))
        {
            return false;
        }

        var rest = value[magic.Length..];
        // Only the header is split; the padding after the third '|' is ignored.
        var headEnd = NthIndexOf(rest, (byte)'|', 3);
        if (headEnd < 0)
        {
            return false;
        }

        var head = Encoding.ASCII.GetString(rest[..headEnd]);
        var fields = head.Split('|');
        if (fields.Length != 3 || fields[0].Length == 0
            || !long.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var seq)
            || !long.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var ts))
        {
            return false;
        }

        record = new ChaosRecord(fields[0], seq, ts);
        return true;
    }

    private static int NthIndexOf(ReadOnlySpan<byte> span, byte b, int n)
    {
        var seen = 0;
        for (var i = 0; i < span.Length; i++)
        {
            if (span[i] == b && ++seen == n)
            {
                return i;
            }
        }

        return -1;
    }
}
