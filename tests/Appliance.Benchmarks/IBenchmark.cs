namespace Appliance.Benchmarks;

/// <summary>
/// One benchmark the harness can run by name. Implementations are discovered by reflection, so adding a
/// benchmark means adding one class; they print their figures (with machine, date and settings) to stdout.
/// </summary>
internal interface IBenchmark
{
    /// <summary>The name used on the command line, e.g. "buffer".</summary>
    string Name { get; }

    /// <summary>One line shown by --help.</summary>
    string Description { get; }

    /// <summary>Runs the benchmark with the remaining command-line arguments; returns the process exit code.</summary>
    Task<int> RunAsync(string[] args, CancellationToken cancellationToken);
}
