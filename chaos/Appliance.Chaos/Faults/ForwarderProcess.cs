using System.Diagnostics;
using System.Globalization;
using Appliance.TestKit;

namespace Appliance.Chaos.Faults;

/// <summary>What happened to one forwarder process.</summary>
/// <param name="Pid">Process id.</param>
/// <param name="ExitCode">Exit code (137 = SIGKILL by us).</param>
/// <param name="How">"sigkill", "sigterm" or "crash" (exited by itself).</param>
/// <param name="StopSeconds">For SIGTERM: seconds from the signal to the exit.</param>
/// <param name="Tail">Last output lines (for crashes).</param>
public sealed record ForwarderExit(int Pid, int ExitCode, string How, double StopSeconds, IReadOnlyList<string> Tail);

/// <summary>
/// The forwarder (appliance-forwarder) as a real process with its real configuration file, supervised the way systemd
/// would (<c>Restart=always</c>, 1 s delay): <see cref="KillAsync"/> (SIGKILL), <see cref="TerminateAsync"/> (SIGTERM,
/// waits for a graceful exit), and a restart after any exit it did not ask for. Output goes to a log file; the pid is
/// recorded under <see cref="ChaosPaths.PidDirectory"/> so <c>cleanup</c> can kill a leftover.
/// </summary>
public sealed class ForwarderProcess : IAsyncDisposable
{
    private readonly string _dll;
    private readonly string _config;
    private readonly int? _uid;
    private readonly StreamWriter _log;
    private readonly object _gate = new();
    private readonly List<ForwarderExit> _exits = [];
    private readonly Queue<string> _tail = new();
    private readonly CancellationTokenSource _stop = new();
    private Process? _process;
    private Task? _watch;
    private bool _expectExit;
    private bool _supervise = true;

    /// <summary>Prepares (does not start) a forwarder for <paramref name="configFile"/>.</summary>
    public ForwarderProcess(string dllPath, string configFile, string logFile, int? runAsUid)
    {
        _dll = dllPath;
        _config = configFile;
        _uid = runAsUid;
        _log = new StreamWriter(logFile, append: true) { AutoFlush = true };
    }

    /// <summary>Every exit so far.</summary>
    public IReadOnlyList<ForwarderExit> Exits
    {
        get
        {
            lock (_gate)
            {
                return [.. _exits];
            }
        }
    }

    /// <summary>Starts so far (first start included).</summary>
    public int Starts { get; private set; }

    /// <summary>True while a process runs.</summary>
    public bool IsRunning
    {
        get
        {
            lock (_gate)
            {
                return _process is { HasExited: false };
            }
        }
    }

    /// <summary>Starts the process (no-op when it runs).</summary>
    public void Start() => StartCore(onlyIfSupervised: false);

    // The restart after a crash must not race DisposeAsync/StopAsync: it re-checks supervision under the same lock
    // that starts the process, so no process (and no pid file) appears after supervision ended.
    private void RestartIfSupervised() => StartCore(onlyIfSupervised: true);

    private void StartCore(bool onlyIfSupervised)
    {
        lock (_gate)
        {
            if (_process is { HasExited: false } || (onlyIfSupervised && !_supervise))
            {
                return;
            }

            var psi = new ProcessStartInfo(_uid is null ? ChildProcess.DotnetHost : "setpriv")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            if (_uid is { } uid)
            {
                var u = uid.ToString(CultureInfo.InvariantCulture);
                foreach (var a in new[] { $"--reuid={u}", $"--regid={u}", "--clear-groups", "--", ResolveDotnet() })
                {
                    psi.ArgumentList.Add(a);
                }

                psi.Environment["HOME"] = "/tmp";
                psi.Environment["DOTNET_CLI_HOME"] = "/tmp";
            }

            psi.ArgumentList.Add(_dll);
            psi.ArgumentList.Add("--config");
            psi.ArgumentList.Add(_config);
            var p = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the forwarder");
            p.OutputDataReceived += (_, e) => Line(e.Data);
            p.ErrorDataReceived += (_, e) => Line(e.Data);
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            _process?.Dispose();
            _process = p;
            _expectExit = false;
            Starts++;
            Directory.CreateDirectory(ChaosPaths.PidDirectory);
            File.WriteAllText(PidFile(p.Id), $"{p.Id}\nappliance-forwarder.dll\n");
            Line($"[chaos] started forwarder pid {p.Id}");
            _watch = WatchAsync(p);
        }
    }

    /// <summary>SIGKILL: the process dies at once, wherever it was. Returns after it is reaped.</summary>
    public async Task KillAsync()
    {
        Process? p;
        lock (_gate)
        {
            p = _process;
            _expectExit = true;
        }

        if (p is null || p.HasExited)
        {
            return;
        }

        p.Kill(entireProcessTree: true);
        await p.WaitForExitAsync();
        Record(p, "sigkill", 0);
    }

    /// <summary>SIGTERM and wait (up to <paramref name="timeout"/>, then SIGKILL); returns the exit.</summary>
    public async Task<ForwarderExit?> TerminateAsync(TimeSpan timeout)
    {
        Process? p;
        lock (_gate)
        {
            p = _process;
            _expectExit = true;
        }

        if (p is null || p.HasExited)
        {
            return null;
        }

        var sw = Stopwatch.StartNew();
        Shell.Run("kill", ["-TERM", p.Id.ToString(CultureInfo.InvariantCulture)]);
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await p.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Line("[chaos] forwarder did not stop within the SIGTERM timeout; SIGKILL");
            p.Kill(entireProcessTree: true);
            await p.WaitForExitAsync();
            return Record(p, "sigterm-timeout", sw.Elapsed.TotalSeconds);
        }

        return Record(p, "sigterm", sw.Elapsed.TotalSeconds);
    }

    /// <summary>Waits until the supervisor has the process running again (after a crash or a kill followed by <see cref="Start"/>).</summary>
    public async Task WaitRunningAsync(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!IsRunning && sw.Elapsed < timeout)
        {
            await Task.Delay(50);
        }
    }

    private ForwarderExit Record(Process p, string how, double stopSeconds)
    {
        lock (_gate)
        {
            var exit = new ForwarderExit(p.Id, p.ExitCode, how, stopSeconds, [.. _tail]);
            if (!_exits.Any(e => e.Pid == p.Id))
            {
                _exits.Add(exit);
            }

            TryDelete(PidFile(p.Id));
            return exit;
        }
    }

    private async Task WatchAsync(Process p)
    {
        try
        {
            await p.WaitForExitAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        bool restart;
        lock (_gate)
        {
            restart = !_expectExit && _supervise;
        }

        if (!restart)
        {
            return;
        }

        Record(p, "crash", 0);
        Line($"[chaos] forwarder exited by itself with {p.ExitCode}; restarting in 1 s (Restart=always)");
        try
        {
            await Task.Delay(1000, _stop.Token);
        }
        catch (OperationCanceledException)
        {
            return;
        }

        RestartIfSupervised();
    }

    private void Line(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_tail)
        {
            _tail.Enqueue(line);
            while (_tail.Count > 40)
            {
                _tail.Dequeue();
            }

            _log.WriteLine(line);
        }
    }

    private static string ResolveDotnet()
    {
        var host = ChildProcess.DotnetHost;
        if (Path.IsPathRooted(host))
        {
            return host;
        }

        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':').Select(d => Path.Combine(d, host)).FirstOrDefault(File.Exists);
        return found ?? host;
    }

    private static string PidFile(int pid) => Path.Combine(ChaosPaths.PidDirectory, $"forwarder-{pid}.pid");

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Stops supervising and SIGTERMs the process (SIGKILL after 35 s).</summary>
    public async Task<ForwarderExit?> StopAsync()
    {
        lock (_gate)
        {
            _supervise = false;
        }

        return await TerminateAsync(TimeSpan.FromSeconds(35));
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        lock (_gate)
        {
            _supervise = false;
        }

        await KillAsync();
        await _stop.CancelAsync();
        if (_watch is not null)
        {
            await _watch;
        }

        lock (_gate)
        {
            if (_process is { } last)
            {
                // The last process may have exited by itself just before supervision ended: then neither KillAsync
                // (nothing left to kill) nor its watcher (no restart wanted any more) recorded it. Its pid file goes too.
                TryDelete(PidFile(last.Id));
                last.Dispose();
            }

            _process = null;
        }

        _stop.Dispose();
        lock (_tail)
        {
            _log.Dispose();
        }
    }
}
