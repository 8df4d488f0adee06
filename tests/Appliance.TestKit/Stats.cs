using MathNet.Numerics.Distributions;

namespace Appliance.TestKit;

/// <summary>Summaries of repeated measurements, for the benchmarks.</summary>
public static class Stats
{
    /// <summary>The middle value of <paramref name="values"/> (the mean of the two middle ones for an even count).</summary>
    public static double Median(IReadOnlyCollection<double> values)
    {
        if (values.Count == 0)
        {
            throw new ArgumentException("no values to take the median of", nameof(values));
        }

        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>
    /// A confidence interval for the median of whatever <paramref name="values"/> were drawn from, with no assumption
    /// about its shape (the sign test's interval): the k-th smallest and the k-th largest value, k as large as the
    /// coverage allows. Each value lies below the true median with probability 1/2, so the interval misses it only when
    /// fewer than k values lie on one side: coverage = 1 - 2 P(Binomial(n, 1/2) &lt;= k - 1), at least
    /// <paramref name="confidence"/>. Null when even the smallest and largest value do not reach it (for 95%: fewer
    /// than 6 values). The runs must be independent of each other, which repeated side-by-side runs are as far as
    /// this machine's neighbours allow.
    /// </summary>
    public static MedianInterval? IntervalOfMedian(IReadOnlyCollection<double> values, double confidence = 0.95)
    {
        var sorted = values.Order().ToArray();
        var n = sorted.Length;
        MedianInterval? narrowest = null;
        for (var k = 1; k <= n / 2; k++)
        {
            var coverage = 1 - (2 * Binomial.CDF(0.5, n, k - 1));
            if (coverage < confidence)
            {
                break;
            }

            narrowest = new MedianInterval(sorted[k - 1], sorted[n - k], coverage);
        }

        return narrowest;
    }
}

/// <summary>An interval that holds the true median with probability <see cref="Coverage"/>.</summary>
public readonly record struct MedianInterval(double Low, double High, double Coverage);
