using System.Buffers;
using System.Buffers.Binary;
using System.IO.Hashing;
using Appliance.Core.Records;

namespace Appliance.Buffer.Tests;

[Trait("Category", "Unit")]
public sealed class EntryCodecTests
{
    [Fact]
    public void Verify_ValidEntries_AllocatesNothing()
    {
        // The drain verifies every entry it reads: no string, box or array may be made for an entry that is fine
        // (a message formatted in advance for the failure case once cost a string per record).
        var entry = RecordEntry();
        Assert.Equal(EntryKind.Record, EntryCodec.Verify(entry));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            EntryCodec.Verify(entry);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Verify_UnknownKindWithAValidCrc_NamesTheKind()
    {
        var entry = RecordEntry();
        entry[0] = 0x7f;
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(entry.Length - 4), Crc32.HashToUInt32(entry.AsSpan(0, entry.Length - 4)));

        var e = Assert.Throws<FormatException>(() => EntryCodec.Verify(entry));
        Assert.Equal("unknown entry kind 127", e.Message);
    }

    [Fact]
    public void Verify_OneByteChanged_IsACrcMismatch()
    {
        var entry = RecordEntry();
        entry[entry.Length / 2] ^= 0x01;

        var e = Assert.Throws<FormatException>(() => EntryCodec.Verify(entry));
        Assert.Equal("CRC mismatch", e.Message);
    }

    private static byte[] RecordEntry()
    {
        var w = new ArrayBufferWriter<byte>();
        EntryCodec.WriteRecord(w, new SourcePosition("orders", 3, 42), 1_764_000_000_000, "store-042.orders", "k"u8, false, "value"u8, false, [new RecordHeader("h", [1, 2])], 1_764_000_000_500);
        return w.WrittenSpan.ToArray();
    }
}
