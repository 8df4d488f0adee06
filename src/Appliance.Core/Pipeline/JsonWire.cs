using System.Buffers;
using System.Text.Json;
using System.Text.Encodings.Web;
using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline;

/// <summary>Serializes JSON nodes to UTF-8 with one reusable buffer per thread (the pipeline runs on one thread).</summary>
internal static class JsonWire
{
    public static readonly JsonDocumentOptions DocumentOptions = new() { MaxDepth = 64 };

    // Records go to Kafka, not into HTML: keep '+', non-ASCII letters etc. as they are instead of \uXXXX escapes.
    private static readonly JsonWriterOptions s_writerOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly JsonSerializerOptions s_textOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The compact JSON text of a node, with the same escaping as <see cref="Serialize"/>.</summary>
    public static string ToText(JsonNode node) => node.ToJsonString(s_textOptions);

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_buffer;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    public static byte[] Serialize(JsonNode node)
    {
        var buffer = t_buffer ??= new ArrayBufferWriter<byte>(512);
        buffer.ResetWrittenCount();
        var writer = t_writer;
        if (writer is null)
        {
            writer = t_writer = new Utf8JsonWriter(buffer, s_writerOptions);
        }
        else
        {
            writer.Reset(buffer);
        }

        node.WriteTo(writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }
}
