namespace Appliance.Core.Records;

/// <summary>One Kafka record header. Header values may be null, as in Kafka.</summary>
/// <param name="Key">The header name.</param>
/// <param name="Value">The header value, or null.</param>
public readonly record struct RecordHeader(string Key, byte[]? Value);
