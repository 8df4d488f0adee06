using System.CommandLine;
using System.Net;
using System.Runtime.InteropServices;
using Appliance.MockKafka;

var brokers = new Option<int>("--brokers") { Description = "Number of brokers (ids 1..N).", DefaultValueFactory = _ => 1 };
var portBase = new Option<int?>("--port-base") { Description = "Broker i listens on fixed port P+i-1 (through a TCP forwarder). Default: ephemeral ports." };
var bind = new Option<string>("--bind") { Description = "Address to listen on (0.0.0.0 for all).", DefaultValueFactory = _ => "127.0.0.1" };
var advertiseHost = new Option<string?>("--advertise-host") { Description = "Host name/address advertised to clients. Default: the bind address, or 127.0.0.1 when binding 0.0.0.0." };
var topics = new Option<string[]>("--topic") { Description = "Topic to create before READY, as name:partitions (repeatable).", AllowMultipleArgumentsPerToken = false };
var controlStdin = new Option<bool>("--control-stdin") { Description = "Read control commands from stdin (down/up/rtt/create-topic/errors/bootstrap/quit); end-of-file stops the process." };

var root = new RootCommand(
    "Runs librdkafka's in-memory mock Kafka cluster as a process. Prints one line 'READY bootstrap=<host:port,...>' "
    + "when ready, runs until SIGTERM/SIGINT (or 'quit' on the control stdin) and exits 0 after cleanup. "
    + "Test stand-in only: data is kept in memory, about 5 MiB per partition.")
{
    brokers, portBase, bind, advertiseHost, topics, controlStdin,
};

root.SetAction(async (parse, _) =>
{
    MockKafkaSettings settings;
    try
    {
        var count = parse.GetValue(brokers);
        if (count < 1)
        {
            throw new FormatException("--brokers must be >= 1");
        }

        var basePort = parse.GetValue(portBase);
        if (basePort is { } p && (p < 1 || p + count - 1 > 65535))
        {
            throw new FormatException("--port-base: ports P..P+brokers-1 must be within 1..65535");
        }

        var address = IPAddress.TryParse(parse.GetValue(bind), out var a) ? a : throw new FormatException("--bind must be an IP address");
        settings = new MockKafkaSettings(
            count,
            basePort,
            address,
            parse.GetValue(advertiseHost) ?? MockKafkaSettings.DefaultAdvertiseHost(address),
            [.. (parse.GetValue(topics) ?? []).Select(MockKafkaSettings.ParseTopic)],
            parse.GetValue(controlStdin));
    }
    catch (FormatException e)
    {
        await Console.Error.WriteLineAsync($"appliance-mockkafka: {e.Message}");
        return 2;
    }

    return await RunAsync(settings);
});

var invocation = new InvocationConfiguration { ProcessTerminationTimeout = null };
return await root.Parse(args).InvokeAsync(invocation);

static async Task<int> RunAsync(MockKafkaSettings settings)
{
    // Not disposed: the control thread may still cancel it while the process exits.
    var stop = new CancellationTokenSource();
    // SIGTERM (systemd, tests) and SIGINT (Ctrl+C) stop gracefully: cleanup runs and the exit code is 0.
    using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
    using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);

    MockKafkaServer server;
    try
    {
        server = await MockKafkaServer.StartAsync(settings, Console.Error);
    }
    catch (Exception e) when (e is System.Net.Sockets.SocketException or InvalidOperationException or DllNotFoundException)
    {
        await Console.Error.WriteLineAsync($"appliance-mockkafka: start failed: {e.Message}");
        return 1;
    }

    await using (server)
    {
        Console.Out.WriteLine($"READY bootstrap={server.BootstrapServers}");
        Console.Out.Flush();

        if (settings.ControlStdin)
        {
            // Console reads block; a background thread keeps them from holding up shutdown.
            var reader = new Thread(() => ControlLoop(server, stop)) { IsBackground = true, Name = "control-stdin" };
            reader.Start();
        }

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token);
        }
        catch (OperationCanceledException)
        {
            // Stop requested.
        }

        await Console.Error.WriteLineAsync("appliance-mockkafka: stopping");
    }

    return 0;

    void Stop(PosixSignalContext context)
    {
        context.Cancel = true;
        stop.Cancel();
    }
}

static void ControlLoop(MockKafkaServer server, CancellationTokenSource stop)
{
    while (!stop.IsCancellationRequested && Console.In.ReadLine() is { } line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            continue;
        }

        var (reply, quit) = server.Execute(line);
        lock (server)
        {
            Console.Out.WriteLine(reply);
            Console.Out.Flush();
        }

        if (quit)
        {
            break;
        }
    }

    // End of file means the controlling process is gone (or closed the pipe): stop rather than linger as an orphan.
    stop.Cancel();
}
