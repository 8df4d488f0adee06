using System.Text.Json;
using Appliance.Core.Records;

namespace Appliance.Buffer.Tests;

/// <summary>
/// A box updated from a build with buffer format 1 keeps everything its buffer holds. The fixture
/// (<c>Fixtures/buffer-format-1</c>) was written by that build (commit ac66266) with this class's
/// <see cref="BufferTestBase.Options"/>: lane <c>critical</c> holds alarms 0..199 (partition = offset % 2,
/// key <c>k{offset % 7}</c>), lane <c>bulk</c> held metrics/3 1000..1299 of which the first 100 were delivered.
/// </summary>
[Trait("Category", "Unit")]
public sealed class FormatUpgradeTests : BufferTestBase
{
    [Fact]
    public async Task Open_FormatOneDirectory_ReadsEverythingUpgradesTheMarkerAndMovesToCommitSlots()
    {
        CopyFixture("buffer-format-1", Dir);
        var options = Options(Dir);
        var logs = new CapturingLoggerFactory();
        await using (var buffer = DurableBuffer.Open(options, logs))
        {
            AssertFixtureContent(buffer);
            Assert.Equal(2, Marker()["version"]!.GetValue<int>());
            Assert.Contains(logs.Messages, m => m.Contains("upgraded from format version 1 to 2", StringComparison.Ordinal));

            // New data commits into the slots; once both slots are newer, the format-1 files go.
            for (var i = 0; i < 3; i++)
            {
                await buffer.Lane("critical").AppendAsync(Rec(200 + i, topic: "alarms", partition: 0));
                await buffer.Lane("bulk").AppendAsync(Rec(1300 + i, topic: "metrics", partition: 3));
                await buffer.WhenDurableAsync();
            }
        }

        foreach (var lane in new[] { "critical", "bulk" })
        {
            Assert.Empty(Directory.EnumerateFiles(Path.Combine(Dir, "lanes", lane, "commits", "log-commits")));
        }

        await using var reopened = DurableBuffer.Open(options);
        Assert.Equal(Enumerable.Range(0, 203).Select(i => (long)i), ReadAll(reopened.Lane("critical")).Select(e => e.Record!.Source.Offset));
        Assert.Equal(Enumerable.Range(1100, 203).Select(i => (long)i), ReadAll(reopened.Lane("bulk")).Select(e => e.Record!.Source.Offset));
    }

    [Fact]
    public async Task Open_FormatOneDirectory_CrashBeforeAnyNewCommit_StillOpensFromTheFormatOneFiles()
    {
        CopyFixture("buffer-format-1", Dir);
        var options = Options(Dir);
        await using (DurableBuffer.Open(options))
        {
            // Opened and upgraded, nothing new committed (a crash right after start).
        }

        await using var reopened = DurableBuffer.Open(options);
        AssertFixtureContent(reopened);
    }

    private static void AssertFixtureContent(DurableBuffer buffer)
    {
        var critical = ReadAll(buffer.Lane("critical")).Select(e => e.Record!).ToList();
        Assert.Equal(Enumerable.Range(0, 200).Select(i => (long)i), critical.Select(r => r.Source.Offset));
        foreach (var r in critical)
        {
            var expected = Rec(r.Source.Offset, topic: "alarms", partition: (int)(r.Source.Offset % 2), key: "k" + (r.Source.Offset % 7));
            Assert.Equal(expected.Source, r.Source);
            Assert.Equal(expected.Key, r.Key);
            Assert.Equal(expected.Value, r.Value);
            Assert.Equal(expected.TimestampMs, r.TimestampMs);
        }

        Assert.Equal(Enumerable.Range(1100, 200).Select(i => (long)i), ReadAll(buffer.Lane("bulk")).Select(e => e.Record!.Source.Offset));
        var resume = buffer.GetResumePoints();
        Assert.Equal(199, resume[new SourcePartition("alarms", 0)]);
        Assert.Equal(200, resume[new SourcePartition("alarms", 1)]);
        Assert.Equal(1300, resume[new SourcePartition("metrics", 3)]);
    }

    private System.Text.Json.Nodes.JsonObject Marker() =>
        JsonSerializer.Deserialize<System.Text.Json.Nodes.JsonObject>(File.ReadAllText(Path.Combine(Dir, "buffer.json")))!;

    private static void CopyFixture(string name, string target)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var to = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(to)!);
            File.Copy(file, to);
        }
    }
}
