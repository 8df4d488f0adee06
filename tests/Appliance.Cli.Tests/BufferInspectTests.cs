using System.Security.Cryptography;
using Appliance.Buffer;
using Appliance.Core.Records;

namespace Appliance.Cli.Tests;

[Trait("Category", "Integration")]
public sealed class BufferInspectTests
{
    [Fact]
    public async Task BufferInspect_RealBuffer_ReportsLanesAndModifiesNothing()
    {
        using var dir = new Appliance.TestKit.TempDirectory("inspect");
        var options = new BufferOptions
        {
            DataDirectory = dir.Path,
            Lanes = [new LaneOptions { Name = "critical", QuotaBytes = 16L << 20 }, new LaneOptions { Name = "bulk", QuotaBytes = 16L << 20 }],
            TotalBudgetBytes = 64L << 20,
            CommitIntervalMs = 2,
            SegmentSizeBits = 20,
            PageSizeBits = 16,
            MemorySizeBits = 18,
        };
        await using (var buffer = DurableBuffer.Open(options))
        {
            for (var i = 0; i < 200; i++)
            {
                await buffer.Lane(i % 4 == 0 ? "critical" : "bulk").AppendAsync(new EdgeRecord(new SourcePosition("pos.sales", 0, i), 1_700_000_000_000 + i, null, new byte[500], null));
            }

            await buffer.CommitNowAsync();
        }

        // FASTER removes outdated commit files lazily, even after the log is closed: take the baseline once the
        // directory has not changed for a second (polling with a deadline).
        var before = Snapshot(dir.Path);
        var stableSince = DateTime.UtcNow;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow - stableSince < TimeSpan.FromSeconds(1) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
            var again = Snapshot(dir.Path);
            if (again != before)
            {
                before = again;
                stableSince = DateTime.UtcNow;
            }
        }

        var (exit, output, _) = await CliRunner.RunAsync("buffer", "inspect", "--dir", dir.Path);
        var after = Snapshot(dir.Path);
        Assert.True(before == after, $"inspect changed the directory:\n- {string.Join("\n- ", before.Split('\n').Except(after.Split('\n')))}\n+ {string.Join("\n+ ", after.Split('\n').Except(before.Split('\n')))}");

        Assert.Equal(ExitCodes.Ok, exit);
        Assert.Contains("Format            appliance-buffer version 2", output, StringComparison.Ordinal);
        Assert.Contains("Incarnation       ", output, StringComparison.Ordinal);
        Assert.Matches("(?m)^critical +[1-9]", output);
        Assert.Matches("(?m)^bulk +[1-9]", output);
        Assert.Contains("Read from files only", output, StringComparison.Ordinal);
        Assert.Contains("appliancectl lanes", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BufferInspect_NotABuffer_Fails()
    {
        using var dir = new Appliance.TestKit.TempDirectory("inspect");
        var (exit, output, _) = await CliRunner.RunAsync("buffer", "inspect", "--dir", dir.Path);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("buffer.json       missing", output, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public async Task BufferInspect_NoDirectory_FailsWithoutCreatingIt()
    {
        var path = Path.Combine(Path.GetTempPath(), "absent-" + Guid.NewGuid().ToString("N")[..8]);
        var (exit, output, _) = await CliRunner.RunAsync("buffer", "inspect", "--dir", path);
        Assert.Equal(ExitCodes.Failure, exit);
        Assert.Contains("no such directory", output, StringComparison.Ordinal);
        Assert.False(Directory.Exists(path));
    }

    private static string Snapshot(string root)
    {
        try
        {
            return SnapshotOnce(root);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // A file vanished while listing (FASTER removing an outdated commit file): not quiescent yet.
            return $"changing: {e.Message}";
        }
    }

    private static string SnapshotOnce(string root)
    {
        var lines = Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Select(p =>
        {
            var info = new FileInfo(p);
            return Directory.Exists(p)
                ? $"{p} dir {Directory.GetLastWriteTimeUtc(p):O}"
                : $"{p} {info.Length} {info.LastWriteTimeUtc:O} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(p)))}";
        });
        return string.Join("\n", lines);
    }
}
