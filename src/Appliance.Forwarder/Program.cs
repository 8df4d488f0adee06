using Appliance.Forwarder.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

var parsed = ForwarderArguments.Parse(args, out var argError);
if (parsed is null)
{
    await Console.Error.WriteLineAsync($"appliance-forwarder: {argError}\nusage: appliance-forwarder [--config <file.json>] [--site-config <site.json>] [--check-config] [--Section:Key=value ...]");
    return ExitCodes.Usage;
}

// Validate before anything starts so a bad configuration gives one clear message (every key) and EX_CONFIG.
var configuration = new ConfigurationBuilder();
try
{
    ForwarderHostBuilder.AddSources(configuration, parsed);
    var problems = ForwarderHostBuilder.BindAndValidate(configuration.Build(), out _);
    if (problems.Count > 0)
    {
        await Console.Error.WriteLineAsync("appliance-forwarder: invalid configuration:\n  " + string.Join("\n  ", problems));
        return ExitCodes.Config;
    }
}
catch (Exception e) when (e is FileNotFoundException or InvalidDataException or FormatException or System.Text.Json.JsonException)
{
    await Console.Error.WriteLineAsync($"appliance-forwarder: invalid configuration: {e.Message}");
    return ExitCodes.Config;
}

if (parsed.CheckConfig)
{
    // Like `sshd -t`: the same sources and rules as a start, and nothing started (appliancectl config validate uses it).
    await Console.Out.WriteLineAsync("appliance-forwarder: configuration OK");
    return ExitCodes.Ok;
}

using var host = ForwarderHostBuilder.Build(parsed);
var health = host.Services.GetRequiredService<ForwarderHealth>();
try
{
    await host.RunAsync();
}
catch (OptionsValidationException e)
{
    await Console.Error.WriteLineAsync("appliance-forwarder: invalid configuration:\n  " + string.Join("\n  ", e.Failures));
    return ExitCodes.Config;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    // Start-up failures (e.g. the buffer directory cannot be opened) end here; the message says what failed.
    await Console.Error.WriteLineAsync($"appliance-forwarder: failed: {e.GetType().Name}: {e.Message}");
    return ExitCodes.Software;
}

return health.Fault is null ? ExitCodes.Ok : ExitCodes.Software;
