namespace Appliance.Chaos.Faults;

/// <summary>Well-known names of everything the chaos suite creates, so <c>cleanup</c> can find leftovers.</summary>
public static class ChaosPaths
{
    /// <summary>
    /// Root of all run state (buffer directories, disk images and mounts, pid files). The default value is
    /// <c>/tmp/appliance-chaos</c>; <c>APPLIANCE_CHAOS_STATE</c> overrides it.
    /// </summary>
    public static string StateRoot =>
        Environment.GetEnvironmentVariable("APPLIANCE_CHAOS_STATE") is { Length: > 0 } s ? s.TrimEnd('/') : "/tmp/appliance-chaos";

    /// <summary>Directory of pid files of processes the runner started (<c>{name}.pid</c>: pid and expected command-line fragment).</summary>
    public static string PidDirectory => Path.Combine(StateRoot, "pids");
}
