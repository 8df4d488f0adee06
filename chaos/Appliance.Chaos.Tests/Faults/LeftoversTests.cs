using System.Diagnostics;
using System.Globalization;
using Appliance.Chaos.Faults;

namespace Appliance.Chaos.Tests.Faults;

[Trait("Category", "Unit")]
// Sets the process-wide APPLIANCE_CHAOS_STATE: never in parallel with the other tests that do.
[Collection("APPLIANCE_CHAOS_STATE")]
public sealed class LeftoversTests
{
    [Fact]
    public void KillRecordedProcesses_MatchingPidFile_KillsOnlyThatProcess()
    {
        var state = Path.Combine(Path.GetTempPath(), $"chaos-state-{Guid.NewGuid():N}");
        var previous = Environment.GetEnvironmentVariable("APPLIANCE_CHAOS_STATE");
        Environment.SetEnvironmentVariable("APPLIANCE_CHAOS_STATE", state);
        using var sleeper = Process.Start(new ProcessStartInfo("sleep", "300") { UseShellExecute = false })!;
        try
        {
            Directory.CreateDirectory(ChaosPaths.PidDirectory);
            File.WriteAllText(Path.Combine(ChaosPaths.PidDirectory, "a.pid"), $"{sleeper.Id}\nsleep 300\n");
            // A stale pid file whose pid now belongs to this test process: the fragment does not match, nothing is killed.
            File.WriteAllText(Path.Combine(ChaosPaths.PidDirectory, "b.pid"), $"{Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}\nappliance-forwarder.dll\n");

            var removed = Leftovers.KillRecordedProcesses();

            Assert.Equal([$"process {sleeper.Id} (sleep 300)"], removed);
            Assert.True(sleeper.WaitForExit(10_000));
            Assert.Empty(Directory.GetFiles(ChaosPaths.PidDirectory));
        }
        finally
        {
            if (!sleeper.HasExited)
            {
                sleeper.Kill();
            }

            Environment.SetEnvironmentVariable("APPLIANCE_CHAOS_STATE", previous);
            Directory.Delete(state, recursive: true);
        }
    }
}
