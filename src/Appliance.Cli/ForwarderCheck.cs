using System.Diagnostics;
using System.Text;

namespace Appliance.Cli;

/// <summary>
/// Runs <c>appliance-forwarder --check-config</c> on configuration files: the service validates them with every rule
/// it applies at start-up (site, edge, central, uplink, buffer, routes and their pipeline steps) and starts nothing,
/// so appliancectl never keeps a second copy of those rules.
/// </summary>
public static class ForwarderCheck
{
    /// <summary>Where the image installs the forwarder.</summary>
    public const string DefaultPath = "/opt/appliance/forwarder/appliance-forwarder";

    /// <summary>Environment variable that overrides <see cref="DefaultPath"/>.</summary>
    public const string PathVariable = "APPLIANCE_FORWARDER";

    /// <summary>The service's exit code for an invalid configuration (EX_CONFIG).</summary>
    public const int InvalidConfiguration = 78;

    /// <summary>The forwarder to use: <c>$APPLIANCE_FORWARDER</c>, else <see cref="DefaultPath"/>.</summary>
    public static string DefaultForwarder => Environment.GetEnvironmentVariable(PathVariable) is { Length: > 0 } p ? p : DefaultPath;

    /// <summary>
    /// Checks <paramref name="files"/> (the first as <c>--config</c>, the second as <c>--site-config</c>, the way the
    /// unit starts the service). <paramref name="forwarder"/> is the executable, or its <c>.dll</c> (run with
    /// <c>dotnet</c>). Returns the exit code, and the problems (one per line, each naming its key) when it is 78.
    /// </summary>
    public static async Task<(int ExitCode, IReadOnlyList<string> Problems, string Output)> RunAsync(string forwarder, IReadOnlyList<string> files, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(forwarder);
        ArgumentNullException.ThrowIfNull(files);
        if (files.Count is < 1 or > 2)
        {
            throw new ArgumentException("the service takes one configuration file and optionally a site file", nameof(files));
        }

        var dll = forwarder.EndsWith(".dll", StringComparison.OrdinalIgnoreCase);
        var start = new ProcessStartInfo(dll ? DotnetHost : forwarder)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        if (dll)
        {
            start.ArgumentList.Add(forwarder);
        }

        start.ArgumentList.Add("--check-config");
        start.ArgumentList.Add("--config");
        start.ArgumentList.Add(Path.GetFullPath(files[0]));
        if (files.Count == 2)
        {
            start.ArgumentList.Add("--site-config");
            start.ArgumentList.Add(Path.GetFullPath(files[1]));
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {forwarder}");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{forwarder} --check-config did not finish within {timeout.TotalSeconds:F0} s");
        }

        var output = (await stdout + await stderr).Trim();
        // "appliance-forwarder: invalid configuration:" then one problem per line, indented.
        var problems = process.ExitCode == InvalidConfiguration
            ? (await stderr).Split('\n').Where(l => l.StartsWith("  ", StringComparison.Ordinal)).Select(l => l.Trim()).ToList()
            : [];
        if (process.ExitCode == InvalidConfiguration && problems.Count == 0)
        {
            // A single-line message (e.g. a file that cannot be parsed): report it as the problem.
            problems.Add(output.Replace("appliance-forwarder: invalid configuration: ", "", StringComparison.Ordinal));
        }

        return (process.ExitCode, problems, output);
    }

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";
}
