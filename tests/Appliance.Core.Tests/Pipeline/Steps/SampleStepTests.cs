using Appliance.Core.Pipeline;
using Appliance.Core.Pipeline.Steps;
using static Appliance.Core.Tests.Pipeline.PipelineTestKit;

namespace Appliance.Core.Tests.Pipeline.Steps;

[Trait("Category", "Unit")]
public sealed class SampleStepTests
{
    [Fact]
    public void Invoke_CountMode_KeepsFirstAndEveryNthPerKey()
    {
        var p = Build(new StepOptions { Type = "sample", N = 3, Mode = "count" });
        var kept = new List<long>();
        var keys = new[] { "a", "b", "a", "a", "b", "a", "b", "b", "a", "a" };
        for (var i = 0; i < keys.Length; i++)
        {
            foreach (var o in p.Process(Rec("{}", keys[i], offset: i)))
            {
                kept.Add(o.Record.Source.Offset);
            }
        }

        // a at 0,2,3,5,8,9 -> 1st (0), 4th (5); b at 1,4,6,7 -> 1st (1), 4th (7).
        Assert.Equal([0L, 1, 5, 7], kept);
    }

    [Fact]
    public void Invoke_CountMode_CountsPerPartition()
    {
        var p = Build(new StepOptions { Type = "sample", N = 2, Mode = "count" });
        Assert.Single(p.Process(Rec("{}", "a", offset: 0, partition: 0)));
        Assert.Single(p.Process(Rec("{}", "a", offset: 0, partition: 1)));
        Assert.Empty(p.Process(Rec("{}", "a", offset: 1, partition: 0)));
    }

    [Fact]
    public void Invoke_HashMode_IsDeterministicAndKeepsAboutOneInN()
    {
        var run = () =>
        {
            var p = Build(new StepOptions { Type = "sample", N = 10 });
            var kept = new List<long>();
            for (var i = 0; i < 10_000; i++)
            {
                if (p.Process(Rec("{}", $"k{i % 7}", offset: i)).Count == 1)
                {
                    kept.Add(i);
                }
            }

            return kept;
        };
        var first = run();
        Assert.Equal(first, run());
        Assert.InRange(first.Count, 900, 1100);
        Assert.All(first, i => Assert.Equal(0UL, SampleStep.Hash(System.Text.Encoding.UTF8.GetBytes($"k{i % 7}"), i) % 10));
    }

    [Fact]
    public void Invoke_NIsOne_KeepsEverything()
    {
        var p = Build(new StepOptions { Type = "sample", N = 1 });
        for (var i = 0; i < 20; i++)
        {
            Assert.Single(p.Process(Rec("{}", offset: i)));
        }
    }
}
