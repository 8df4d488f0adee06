using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Core.Pipeline.Steps;

/// <summary>
/// Replaces personal data by a keyed HMAC-SHA256 digest (so equal inputs still join downstream, but cannot be
/// reversed without the key) or by a fixed replacement text.
/// </summary>
internal sealed class MaskStep : IPipelineStep
{
    private readonly FieldPath[] _fields;
    private readonly byte[]? _hmacKey;
    private readonly bool _base64;
    private readonly string _replacement;
    private readonly bool _touchesValue;

    public MaskStep(FieldPath[] fields, byte[]? hmacKey, bool base64, string replacement)
    {
        _fields = fields;
        _hmacKey = hmacKey;
        _base64 = base64;
        _replacement = replacement;
        _touchesValue = fields.Any(f => f.Root == PathRoot.Value);
    }

    /// <summary>The digest text for some bytes: HMAC-SHA256 with the key, hex (lower case) or base64.</summary>
    public static string Digest(byte[] key, ReadOnlySpan<byte> data, bool base64)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, data, mac);
        return base64 ? Convert.ToBase64String(mac) : Convert.ToHexStringLower(mac);
    }

    public void Invoke(RecordContext context, StepDelegate next)
    {
        foreach (var field in _fields)
        {
            switch (field.Root)
            {
                case PathRoot.Key:
                    if (context.Key is { } key)
                    {
                        context.Key = Encoding.UTF8.GetBytes(Mask(key));
                    }

                    break;
                case PathRoot.Header:
                    var name = field.Segments[0];
                    if (context.GetHeader(name) is { } header)
                    {
                        context.SetHeader(name, Mask(Encoding.UTF8.GetBytes(header)));
                    }

                    break;
                default:
                    if (field.TryGet(context.Value, out var node) && node is not null)
                    {
                        // Strings are hashed as their UTF-8 text; numbers, booleans, objects and arrays as their JSON text.
                        var data = node is JsonValue v && v.GetValueKind() == JsonValueKind.String
                            ? Encoding.UTF8.GetBytes(v.GetValue<string>())
                            : Encoding.UTF8.GetBytes(JsonWire.ToText(node));
                        field.GetParent(context.Value, create: false)![field.Leaf] = JsonValue.Create(Mask(data));
                    }

                    break;
            }
        }

        if (_touchesValue)
        {
            context.MarkValueChanged();
        }

        next(context);
    }

    private string Mask(byte[] data) => _hmacKey is null ? _replacement : Digest(_hmacKey, data, _base64);
}
