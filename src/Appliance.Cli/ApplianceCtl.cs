using System.CommandLine;
using System.Net;
using System.Text.Json;
using Appliance.Core.Status;

namespace Appliance.Cli;

/// <summary>The appliancectl command tree.</summary>
public static class ApplianceCtl
{
    /// <summary>Environment variable that overrides the admin socket path.</summary>
    public const string SocketVariable = "APPLIANCE_ADMIN_SOCKET";

    /// <summary>Runs appliancectl with <paramref name="args"/>, writing to the given writers; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, IReadOnlyList<IConfigurationValidator>? validators = null, CancellationToken ct = default)
    {
        var root = Build(validators ?? ConfigTools.DefaultValidators);
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            foreach (var e in parsed.Errors)
            {
                await error.WriteLineAsync($"appliancectl: {e.Message}");
            }

            await error.WriteLineAsync("Run 'appliancectl --help' for usage.");
            return ExitCodes.Usage;
        }

        return await parsed.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, ct);
    }

    /// <summary>Builds the command tree.</summary>
    public static RootCommand Build(IReadOnlyList<IConfigurationValidator> validators)
    {
        var socket = new Option<string>("--socket")
        {
            Description = $"Admin socket of appliance-forwarder (default: ${SocketVariable} or {AdminClient.DefaultSocket})",
            Recursive = true,
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable(SocketVariable) is { Length: > 0 } s ? s : AdminClient.DefaultSocket,
        };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the service", Recursive = true, DefaultValueFactory = _ => 10 };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON (the admin API's format)" };
        var root = new RootCommand("appliancectl: look at and steer the appliance forwarder on this box");
        root.Options.Add(socket);
        root.Options.Add(timeout);

        var status = new Command("status", "Connectivity, last sync, buffer and lanes at a glance") { json };
        status.SetAction((pr, ct) => WithClient(pr, socket, timeout, async (client, o) =>
        {
            var s = await client.GetStatusAsync(ct);
            await o.WriteAsync(pr.GetValue(json) ? JsonSerializer.Serialize(s, StatusJsonContext.Default.ApplianceStatus) + "\n" : Formatting.Status(s));
            return ExitCodes.Ok;
        }));
        root.Subcommands.Add(status);

        var lanesJson = new Option<bool>("--json") { Description = "Print the lanes as JSON" };
        var lanes = new Command("lanes", "Per-lane fill, waiting records, oldest unsent age, drops, paused state") { lanesJson };
        lanes.SetAction((pr, ct) => WithClient(pr, socket, timeout, async (client, o) =>
        {
            var s = await client.GetStatusAsync(ct);
            await o.WriteAsync(pr.GetValue(lanesJson) ? JsonSerializer.Serialize(s.Lanes, StatusJsonContext.Default.IReadOnlyListLaneStatus) + "\n" : Formatting.Lanes(s));
            return ExitCodes.Ok;
        }));
        root.Subcommands.Add(lanes);

        var drain = new Command("drain", "Try central now (skips the reconnect backoff)");
        drain.SetAction((pr, ct) => WithClient(pr, socket, timeout, (client, o) => Post(client, "v1/drain", pr, o, ct)));
        root.Subcommands.Add(drain);

        foreach (var verb in new[] { "pause", "resume" })
        {
            var lane = new Argument<string>("lane") { Description = "Lane name (see appliancectl lanes)" };
            var cmd = new Command(verb, verb == "pause" ? "Stop sending a lane to central (it keeps buffering)" : "Send a paused lane again") { lane };
            cmd.SetAction((pr, ct) => WithClient(pr, socket, timeout, (client, o) =>
                Post(client, $"v1/lanes/{Uri.EscapeDataString(pr.GetValue(lane)!)}/{verb}", pr, o, ct)));
            root.Subcommands.Add(cmd);
        }

        root.Subcommands.Add(ConfigCommand(validators));
        root.Subcommands.Add(BufferCommand());
        return root;
    }

    private static Command ConfigCommand(IReadOnlyList<IConfigurationValidator> validators)
    {
        var config = new Command("config", "Check and show configuration files");
        var file = new Argument<string[]>("file") { Description = "Configuration JSON file(s); later files override earlier ones, as in the service", Arity = ArgumentArity.OneOrMore };
        var forwarder = new Option<string>("--forwarder")
        {
            Description = $"The forwarder whose start-up rules are applied (default: ${ForwarderCheck.PathVariable} or {ForwarderCheck.DefaultPath}); without it only JSON syntax and the Buffer section are checked",
            DefaultValueFactory = _ => ForwarderCheck.DefaultForwarder,
        };
        var validate = new Command("validate", "Check JSON syntax and every rule the service checks at start-up (appliance-forwarder --check-config)") { file, forwarder };
        validate.SetAction(async (pr, ct) =>
        {
            var files = pr.GetValue(file)!;
            var o = pr.InvocationConfiguration.Output;
            var path = pr.GetValue(forwarder)!;
            var syntax = files.Select(ConfigTools.SyntaxError).OfType<string>().ToList();
            IReadOnlyList<string> problems;
            string checkedBy;
            if (syntax.Count > 0)
            {
                problems = syntax;
                checkedBy = "JSON syntax";
            }
            else if (File.Exists(path) && files.Length <= 2)
            {
                var (exit, found, output) = await ForwarderCheck.RunAsync(path, files, TimeSpan.FromSeconds(60), ct);
                if (exit is not (ExitCodes.Ok or ForwarderCheck.InvalidConfiguration))
                {
                    await pr.InvocationConfiguration.Error.WriteLineAsync($"appliancectl: {path} --check-config failed (exit {exit}): {output}");
                    return ExitCodes.Failure;
                }

                problems = found;
                checkedBy = $"every start-up rule of {path}";
            }
            else
            {
                problems = ConfigTools.Validate(files, validators);
                checkedBy = $"JSON syntax, {string.Join(", ", validators.Select(v => v.Name))} only: "
                    + (files.Length > 2 ? "the service takes at most two files (--config, --site-config)" : $"{path} not found (--forwarder)");
            }

            if (problems.Count == 0)
            {
                await o.WriteLineAsync($"OK: {string.Join(", ", files)} (checked: {checkedBy})");
                return ExitCodes.Ok;
            }

            await o.WriteLineAsync($"INVALID: {problems.Count} problem(s)");
            foreach (var p in problems)
            {
                await o.WriteLineAsync("  " + p);
            }

            return ExitCodes.Failure;
        });
        config.Subcommands.Add(validate);

        var showFile = new Argument<string[]>("file") { Description = "Configuration JSON file(s), layered in order", Arity = ArgumentArity.OneOrMore };
        var redacted = new Option<bool>("--redacted") { Description = "Replace secrets with *** (always on: appliancectl never prints secrets)", DefaultValueFactory = _ => true };
        var show = new Command("show", "Print the effective configuration with secrets redacted") { showFile, redacted };
        show.SetAction(async (pr, ct) =>
        {
            var files = pr.GetValue(showFile)!;
            var syntax = files.Select(ConfigTools.SyntaxError).OfType<string>().ToList();
            if (syntax.Count > 0)
            {
                foreach (var s in syntax)
                {
                    await pr.InvocationConfiguration.Error.WriteLineAsync("appliancectl: " + s);
                }

                return ExitCodes.Failure;
            }

            await pr.InvocationConfiguration.Output.WriteAsync(ConfigTools.ShowRedacted(ConfigTools.Load(files)));
            return ExitCodes.Ok;
        });
        config.Subcommands.Add(show);
        return config;
    }

    private static Command BufferCommand()
    {
        var buffer = new Command("buffer", "Look at the durable buffer on disk");
        var dir = new Option<string>("--dir") { Description = $"Buffer directory (Buffer:DataDirectory; default {BufferInspector.DefaultDirectory})", DefaultValueFactory = _ => BufferInspector.DefaultDirectory };
        var inspect = new Command("inspect", "Read-only: per-lane files on disk, never modifies the buffer") { dir };
        inspect.SetAction(async (pr, ct) =>
        {
            var report = BufferInspector.Inspect(pr.GetValue(dir)!, out var ok);
            await pr.InvocationConfiguration.Output.WriteAsync(report);
            return ok ? ExitCodes.Ok : ExitCodes.Failure;
        });
        buffer.Subcommands.Add(inspect);
        return buffer;
    }

    private static async Task<int> Post(AdminClient client, string path, ParseResult pr, TextWriter o, CancellationToken ct)
    {
        var (code, reply) = await client.PostAsync(path, ct);
        if (code == HttpStatusCode.OK)
        {
            await o.WriteLineAsync(reply.Message);
            return ExitCodes.Ok;
        }

        await pr.InvocationConfiguration.Error.WriteLineAsync("appliancectl: " + reply.Message);
        return code == HttpStatusCode.NotFound ? ExitCodes.NotFound : ExitCodes.Failure;
    }

    private static async Task<int> WithClient(ParseResult pr, Option<string> socket, Option<int> timeout, Func<AdminClient, TextWriter, Task<int>> action)
    {
        using var client = new AdminClient(pr.GetValue(socket)!, TimeSpan.FromSeconds(Math.Max(1, pr.GetValue(timeout))));
        try
        {
            return await action(client, pr.InvocationConfiguration.Output);
        }
        catch (AdminUnavailableException e)
        {
            await pr.InvocationConfiguration.Error.WriteLineAsync(e.Message);
            return e.ExitCode;
        }
        catch (JsonException e)
        {
            await pr.InvocationConfiguration.Error.WriteLineAsync($"appliancectl: the service sent a status this version cannot read: {e.Message}");
            return ExitCodes.Failure;
        }
    }
}
