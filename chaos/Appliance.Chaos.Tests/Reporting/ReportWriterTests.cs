using Appliance.Chaos.Reporting;
using Appliance.Chaos.Running;

namespace Appliance.Chaos.Tests.Reporting;

[Trait("Category", "Unit")]
public sealed class ReportWriterTests
{
    [Fact]
    public void MissedThresholds_FullRunCounts_None()
    {
        var t = new FaultCounters { BlackholePartitions = 29, ResetPartitions = 28, ForwarderKills = 38, CentralRestarts = 15, DiskFullEpisodes = 6, MaxBacklogBytes = 1_100_000_000 };

        Assert.Empty(ReportWriter.MissedThresholds(t));
    }

    [Fact]
    public void MissedThresholds_OnlyOneKindOfPartition_NamesEveryShortfall()
    {
        var t = new FaultCounters { BlackholePartitions = 60, ForwarderKills = 29, CentralRestarts = 10, DiskFullEpisodes = 5, MaxBacklogBytes = 999_999_999 };

        Assert.Equal(
            ["partitions: 60 blackhole + 0 reset < 50 of both kinds", "forwarder SIGKILLs: 29 < 30", "largest backlog: 999999999 bytes < 1 GB"],
            ReportWriter.MissedThresholds(t));
    }
}
