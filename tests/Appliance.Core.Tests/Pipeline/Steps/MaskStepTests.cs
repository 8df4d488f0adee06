using System.Security.Cryptography;
using System.Text;
using Appliance.Core.Pipeline;
using Appliance.Core.Pipeline.Steps;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Steps;

[Trait("Category", "Unit")]
public sealed class MaskStepTests
{
    private const string Key0B = "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b";

    // RFC 4231, section 4: HMAC-SHA-256 test cases 1, 2, 3, 4, 6 and 7 (case 5 is a truncated output).
    [Theory]
    [InlineData("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b", "4869205468657265", "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")]
    [InlineData("4a656665", "7768617420646f2079612077616e7420666f72206e6f7468696e673f", "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd", "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe")]
    [InlineData("0102030405060708090a0b0c0d0e0f10111213141516171819", "cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd", "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b")]
    [InlineData("RFC4231-131xAA", "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a65204b6579202d2048617368204b6579204669727374", "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")]
    [InlineData("RFC4231-131xAA", "5468697320697320612074657374207573696e672061206c6172676572207468616e20626c6f636b2d73697a65206b657920616e642061206c6172676572207468616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565647320746f20626520686173686564206265666f7265206265696e6720757365642062792074686520484d414320616c676f726974686d2e", "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2")]
    public void Digest_Rfc4231Vectors_MatchHex(string keyHex, string dataHex, string expected)
    {
        var key = keyHex == "RFC4231-131xAA" ? Enumerable.Repeat((byte)0xaa, 131).ToArray() : Convert.FromHexString(keyHex);
        Assert.Equal(expected, MaskStep.Digest(key, Convert.FromHexString(dataHex), base64: false));
    }

    private static RecordPipeline Hash(string? encoding, params string[] fields) => Build(new StepOptions
    {
        Type = "mask",
        Fields = [.. fields],
        HmacKey = Key0B,
        HmacKeyFormat = "hex",
        Encoding = encoding,
    });

    [Fact]
    public void Invoke_HashStringField_IsHmacOfUtf8Text()
    {
        // The field holds RFC 4231 case 1's data, so the digest is that case's output.
        var p = Hash(null, "value.name");
        Assert.Equal("""{"name":"b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7","t":1}""", One(p, """{"name":"Hi There","t":1}"""));
    }

    [Fact]
    public void Invoke_HashBase64_EncodesDigestAsBase64()
    {
        var p = Hash("base64", "value.name");
        Assert.Equal("""{"name":"sDRMYdjbOFNcqK/OrwvxK4gdwgDJgz2nJuk3bC4yz/c="}""", One(p, """{"name":"Hi There"}"""));
    }

    [Fact]
    public void Invoke_HashNonStrings_HashesJsonTextAndLeavesNullAndMissing()
    {
        var p = Hash(null, "value.n", "value.b", "value.o", "value.z", "value.absent");
        Assert.Equal(
            """{"n":"9aa61153598dd1d96a327c488b5ad716994a1a98a6f5cffd43692a397d2ce639","b":"001cbf4ddf29397a2bf3dba31b8499d921334fbf06219d7f6bf15c7aa288f19b","o":"a2af821c642443d6cbfe9af935f203663cf08bb963469d10e982dca6be699ba1","z":null}""",
            One(p, """{"n":42,"b":true,"o":{"a":1},"z":null}"""));
    }

    [Fact]
    public void Invoke_HashKeyAndHeaderWithUtf8Key_MatchesVectors()
    {
        var p = Build(new StepOptions { Type = "mask", Fields = ["key", "header.email"], HmacKey = "site-secret-key-0123456789" });
        var o = Assert.Single(p.Process(Rec("""{"v":1}""", key: "cust-1", headers: [("email", "alice@example.com")])));
        Assert.Equal("a5bb06bd03fffe83de08e85d63db13359580788ec00538577e8605698b4de965", o.KeyText());
        Assert.Equal("545d5931820855407afd25aec969acab001d40b06edf13877c1310ee8ba3aadd", o.Header("email"));
        Assert.Equal("""{"v":1}""", o.ValueText());
    }

    [Fact]
    public void Invoke_Base64HmacKey_DecodesKey()
    {
        var key = Convert.ToBase64String(Encoding.UTF8.GetBytes("site-secret-key-0123456789"));
        var p = Build(new StepOptions { Type = "mask", Fields = ["value.mail"], HmacKey = key, HmacKeyFormat = "base64", Encoding = "base64" });
        Assert.Equal("""{"mail":"VF1ZMYIIVUB6/SWuyWmsqwAdQLBu3xOHfBMQ7oujqt0="}""", One(p, """{"mail":"alice@example.com"}"""));
    }

    [Fact]
    public void Invoke_Redact_ReplacesFieldsKeyAndHeader()
    {
        var p = Build(new StepOptions { Type = "mask", Method = "redact", Fields = ["value.name", "value.a.phone", "key", "header.ip"] });
        var o = Assert.Single(p.Process(Rec("""{"name":"Alice","a":{"phone":123},"t":1}""", key: "alice", headers: [("ip", "10.0.0.1")])));
        Assert.Equal("""{"name":"***","a":{"phone":"***"},"t":1}""", o.ValueText());
        Assert.Equal("***", o.KeyText());
        Assert.Equal("***", o.Header("ip"));
    }

    [Fact]
    public void Invoke_RedactWithReplacement_UsesReplacement()
    {
        var p = Build(new StepOptions { Type = "mask", Method = "redact", Replacement = "[removed]", Fields = ["value.name"] });
        Assert.Equal("""{"name":"[removed]"}""", One(p, """{"name":"Alice"}"""));
    }

    [Fact]
    public void Digest_SameAsFrameworkHmac()
    {
        var key = RandomNumberGenerator.GetBytes(32);
        var data = RandomNumberGenerator.GetBytes(100);
        Assert.Equal(Convert.ToHexStringLower(HMACSHA256.HashData(key, data)), MaskStep.Digest(key, data, base64: false));
    }
}
