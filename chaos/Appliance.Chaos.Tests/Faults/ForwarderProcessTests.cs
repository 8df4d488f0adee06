using System.Diagnostics;
using Appliance.Chaos.Faults;
using Appliance.TestKit;

namespace Appliance.Chaos.Tests.Faults;

/// <summary>
/// The supervisor with a stand-in program: appliance-mockkafka rejects <c>--config</c> and exits non-zero at once, which is
/// exactly "a forwarder that crashes at start-up".
/// </summary>
[Trait("Category", "Integration")]
// Sets the process-wide APPLIANCE_CHAOS_STATE: never in parallel with the other tests that do.
[Collection("APPLIANCE_CHAOS_STATE")]
public sealed class ForwarderProcessTests
{
    [Fact]
    public async Task Start_ProcessExitsByItself_IsRecordedAsCrashAndRestartedUntilDisposed()
    {
        using var dir = new TempDirectory("chaos-fwd");
        var previous = Environment.GetEnvironmentVariable("APPLIANCE_CHAOS_STATE");
        Environment.SetEnvironmentVariable("APPLIANCE_CHAOS_STATE", dir.Combine("state"));
        try
        {
            var dll = Path.Combine(AppContext.BaseDirectory, "appliance-mockkafka.dll");
            var log = dir.Combine("forwarder.log");
            var process = new ForwarderProcess(dll, dir.Combine("missing.json"), log, runAsUid: null);
            await using (process)
            {
                process.Start();
                var sw = Stopwatch.StartNew();
                while (process.Starts < 2 && sw.Elapsed < TimeSpan.FromSeconds(60))
                {
                    await Task.Delay(50);
                }

                Assert.True(process.Starts >= 2, $"not restarted; starts {process.Starts}");
                var crash = Assert.Single(process.Exits.Take(1));
                Assert.Equal("crash", crash.How);
                Assert.NotEqual(0, crash.ExitCode);
            }

            // No restart after dispose: the restart delay is 1 s, so watch for longer than that (a bounded observation
            // of something that must not happen, not a wait for something to happen).
            var starts = process.Starts;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed < TimeSpan.FromSeconds(1.5))
            {
                Assert.Equal(starts, process.Starts);
                await Task.Delay(100);
            }

            Assert.False(process.IsRunning);
            Assert.Empty(Directory.Exists(ChaosPaths.PidDirectory) ? Directory.GetFiles(ChaosPaths.PidDirectory) : []);
            Assert.Contains("restarting in 1 s", await File.ReadAllTextAsync(log), StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable("APPLIANCE_CHAOS_STATE", previous);
        }
    }
}
