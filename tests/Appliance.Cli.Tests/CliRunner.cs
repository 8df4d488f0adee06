namespace Appliance.Cli.Tests;

/// <summary>Runs appliancectl in-process and captures what it prints.</summary>
public static class CliRunner
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(params string[] args) => await RunAsync(null, args);

    public static async Task<(int Exit, string Out, string Err)> RunAsync(IReadOnlyList<IConfigurationValidator>? validators, params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await ApplianceCtl.RunAsync(args, output, error, validators);
        return (exit, output.ToString(), error.ToString());
    }
}

/// <summary>Golden files live in tests/Appliance.Cli.Tests/Golden; set UPDATE_GOLDEN=1 to rewrite them from the actual output.</summary>
public static class Golden
{
    public static void Match(string name, string actual)
    {
        var source = Path.Combine(SourceDirectory(), "Golden", name);
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(source, actual);
        }

        var expected = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Golden", name));
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            expected = actual;
        }

        Assert.Equal(expected, actual);
    }

    public static string Input(string name) => Path.Combine(AppContext.BaseDirectory, "Golden", name);

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") => Path.GetDirectoryName(path)!;
}
