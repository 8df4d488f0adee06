using Appliance.Chaos.Verification;

namespace Appliance.Chaos.Tests.Verification;

[Trait("Category", "Unit")]
public sealed class ProducedLogTests
{
    [Fact]
    public void ReadInto_WrittenLog_FeedsVerifierTheSameRecords()
    {
        var path = Path.Combine(Path.GetTempPath(), $"chaos-produced-{Guid.NewGuid():N}.csv");
        try
        {
            using (var log = new ProducedLog(path))
            {
                log.Produced(new ProducedRecord("normal", "normal-k1", 0, "edge-n", 2, 40, 1000));
                log.Produced(new ProducedRecord("normal", "normal-k1", 1, "edge-n", 2, 41, 1001));
                log.Failed("normal-k1", 2);
            }

            var v = new DeliveryVerifier(DuplicateCheck.Strict);
            Assert.Equal(3, ProducedLog.ReadInto(path, v));
            v.RecordDelivered(new DeliveredRecord("c", 0, 0, "normal-k1", 0, 1000, 1010, null));

            var r = v.Verify();
            Assert.Equal(2, r.Produced);
            Assert.Equal(1, r.Lost);
            Assert.Equal("lost: key normal-k1 1 record(s), seq 1 (edge edge-n/2@41)", Assert.Single(r.Failures));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadInto_GarbageLine_ThrowsWithLineNumber()
    {
        var path = Path.Combine(Path.GetTempPath(), $"chaos-produced-{Guid.NewGuid():N}.csv");
        try
        {
            File.WriteAllText(path, "P,a,b,0,t,0,0,0\nnonsense\n");
            var e = Assert.Throws<FormatException>(() => ProducedLog.ReadInto(path, new DeliveryVerifier(DuplicateCheck.Strict)));
            Assert.Contains(":2:", e.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
