using System.Globalization;

namespace Appliance.Chaos.Verification;

/// <summary>
/// The load generator's record of what the edge acknowledged, one line per record, so a run can be verified again
/// later (<c>appliance-chaos verify</c>): <c>P,lane,key,seq,topic,partition,offset,producedAtMs</c> for an acknowledged
/// record, <c>F,key,seq</c> for a failed produce. Topic, lane and key names contain no commas.
/// </summary>
public sealed class ProducedLog : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly object _lock = new();

    /// <summary>Creates (truncates) the log file.</summary>
    public ProducedLog(string path) => _writer = new StreamWriter(path, append: false) { AutoFlush = false };

    /// <summary>Appends an acknowledged record.</summary>
    public void Produced(ProducedRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        lock (_lock)
        {
            _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"P,{r.Lane},{r.Key},{r.Sequence},{r.EdgeTopic},{r.EdgePartition},{r.EdgeOffset},{r.ProducedAtMs}"));
        }
    }

    /// <summary>Appends a failed produce.</summary>
    public void Failed(string key, long sequence)
    {
        lock (_lock)
        {
            _writer.WriteLine(string.Create(CultureInfo.InvariantCulture, $"F,{key},{sequence}"));
        }
    }

    /// <summary>Flushes to the file.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            _writer.Flush();
        }
    }

    /// <summary>Reads a log into <paramref name="verifier"/>; returns the number of lines read.</summary>
    public static long ReadInto(string path, DeliveryVerifier verifier)
    {
        ArgumentNullException.ThrowIfNull(verifier);
        long n = 0;
        foreach (var line in File.ReadLines(path))
        {
            var f = line.Split(',');
            if (f.Length == 8 && f[0] == "P")
            {
                verifier.RecordProduced(new ProducedRecord(f[1], f[2], long.Parse(f[3], CultureInfo.InvariantCulture), f[4],
                    int.Parse(f[5], CultureInfo.InvariantCulture), long.Parse(f[6], CultureInfo.InvariantCulture), long.Parse(f[7], CultureInfo.InvariantCulture)));
            }
            else if (f.Length == 3 && f[0] == "F")
            {
                verifier.RecordProduceFailed(f[1], long.Parse(f[2], CultureInfo.InvariantCulture));
            }
            else
            {
                throw new FormatException($"{path}:{n + 1}: not a produced-log line: {line}");
            }

            n++;
        }

        return n;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            _writer.Dispose();
        }
    }
}
