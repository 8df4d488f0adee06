using System.Text;
using Appliance.Chaos.Load;

namespace Appliance.Chaos.Tests.Load;

[Trait("Category", "Unit")]
public sealed class ChaosRecordTests
{
    [Fact]
    public void Encode_ThenTryParse_RoundTripsAndPads()
    {
        var r = new ChaosRecord("bulk-k42", 123456, 1_764_000_000_123);

        var bytes = r.Encode(300);

        Assert.Equal(300, bytes.Length);
        Assert.True(ChaosRecord.TryParse(bytes, out var back));
        Assert.Equal(r, back);
        Assert.Equal("bulk-k42#123456", back.Id);
    }

    [Fact]
    public void Encode_SizeSmallerThanHeader_KeepsWholeHeader()
    {
        var bytes = new ChaosRecord("k", 1, 2).Encode(1);

        Assert.Equal("chaos1|k|1|2|", Encoding.ASCII.GetString(bytes));
    }

    [Theory]
    [InlineData("")]
    [InlineData("hello")]
    [InlineData("chaos1|k|x|2|")]
    [InlineData("chaos1|k|1")]
    [InlineData("chaos1||1|2|")]
    public void TryParse_NotAChaosValue_ReturnsFalse(string value) =>
        Assert.False(ChaosRecord.TryParse(Encoding.ASCII.GetBytes(value), out _));
}
