using System.Globalization;
using System.Net;

namespace Appliance.MockKafka;

/// <summary>Validated command-line settings.</summary>
internal sealed record MockKafkaSettings(
    int Brokers,
    int? PortBase,
    IPAddress Bind,
    string AdvertiseHost,
    IReadOnlyList<(string Name, int Partitions)> Topics,
    bool ControlStdin)
{
    /// <summary>
    /// librdkafka's mock listens on ephemeral 127.0.0.1 ports only; a fixed port or another bind address needs a
    /// forwarder per broker.
    /// </summary>
    public bool UsesForwarders => PortBase is not null || !Bind.Equals(IPAddress.Loopback);

    public static (string Name, int Partitions) ParseTopic(string text)
    {
        // Kafka topic names cannot contain ':', so the last one separates the partition count.
        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var partitions) || partitions < 1)
        {
            throw new FormatException($"--topic '{text}': expected name:partitions with partitions >= 1");
        }

        return (text[..colon], partitions);
    }

    public static string DefaultAdvertiseHost(IPAddress bind) =>
        bind.Equals(IPAddress.Any) || bind.Equals(IPAddress.IPv6Any) ? "127.0.0.1" : bind.ToString();
}
