using Appliance.TestKit;

namespace Appliance.Core.Tests.TestKit;

/// <summary>The benchmarks' summaries: the figures the throughput target is read from.</summary>
[Trait("Category", "Unit")]
public sealed class StatsTests
{
    [Fact]
    public void Median_OddAndEvenCounts_MiddleOrMeanOfTheMiddleTwo()
    {
        Assert.Equal(0.8, Stats.Median([0.9, 0.7, 0.8]));
        Assert.Equal(0.85, Stats.Median([1.0, 0.7, 0.9, 0.8]), 10);
        Assert.Throws<ArgumentException>(() => Stats.Median([]));
    }

    [Fact]
    public void IntervalOfMedian_FiveValues_TooFewFor95Percent()
    {
        // Even min..max misses the median with probability 2 / 2^5 = 6.25%.
        Assert.Null(Stats.IntervalOfMedian([1, 2, 3, 4, 5]));
    }

    [Fact]
    public void IntervalOfMedian_SixValues_MinToMax()
    {
        var i = Stats.IntervalOfMedian([6, 1, 5, 2, 4, 3]);

        Assert.NotNull(i);
        Assert.Equal(1, i.Value.Low);
        Assert.Equal(6, i.Value.High);
        Assert.Equal(1 - (2.0 / 64), i.Value.Coverage, 10);
    }

    [Fact]
    public void IntervalOfMedian_24Values_SeventhSmallestToSeventhLargest()
    {
        // P(Binomial(24, 1/2) <= 6) = 0.0113 keeps k = 7 at 97.7%; k = 8 would cover only 93.6%.
        var values = Enumerable.Range(1, 24).Select(v => (double)v).Reverse().ToArray();

        var i = Stats.IntervalOfMedian(values);

        Assert.NotNull(i);
        Assert.Equal(7, i.Value.Low);
        Assert.Equal(18, i.Value.High);
        Assert.Equal(0.977, i.Value.Coverage, 3);
    }

    [Fact]
    public void IntervalOfMedian_LowerConfidence_Narrower()
    {
        var values = Enumerable.Range(1, 24).Select(v => (double)v).ToArray();

        var i = Stats.IntervalOfMedian(values, confidence: 0.9);

        Assert.NotNull(i);
        Assert.Equal(8, i.Value.Low);
        Assert.Equal(17, i.Value.High);
    }
}
