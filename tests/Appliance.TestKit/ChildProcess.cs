using System.Diagnostics;
using System.Text;
using Appliance.TestKit.Native;

namespace Appliance.TestKit;

/// <summary>Options for <see cref="ChildProcess"/>.</summary>
public sealed class ChildProcessOptions
{
    /// <summary>Environment variables to set (a null value removes the variable). The default value is none.</summary>
    public IDictionary<string, string?> Environment { get; } = new Dictionary<string, string?>();

    /// <summary>Working directory. The default value is the current directory.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>
    /// When true, the child's stdin is closed right after start, so it reads end-of-file at once (what it sees
    /// under systemd with stdin on /dev/null). The default value is false (stdin stays open for
    /// <see cref="ChildProcess.WriteLineAsync"/>).
    /// </summary>
    public bool CloseStdin { get; set; }
}

/// <summary>
/// A child process whose stdout/stderr lines are collected, with deadline-bounded waits for a line or an exit,
/// SIGTERM/SIGKILL, and a dispose that always kills (SIGKILL, whole tree) and reaps it.
/// </summary>
public sealed class ChildProcess : IDisposable, IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];
    private readonly object _gate = new();
    private readonly Task _stdoutPump;
    private readonly Task _stderrPump;
    private TaskCompletionSource _changed = NewSignal();
    private bool _stdoutClosed;
    private int _disposed;

    private ChildProcess(ProcessStartInfo startInfo, ChildProcessOptions options)
    {
        _process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {startInfo.FileName}");
        _stdoutPump = PumpAsync(_process.StandardOutput, _stdout, isStdout: true);
        _stderrPump = PumpAsync(_process.StandardError, _stderr, isStdout: false);
        if (options.CloseStdin)
        {
            _process.StandardInput.Close();
        }
    }

    /// <summary>Process id.</summary>
    public int Id => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Exit code, or null while running.</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Snapshot of the stdout lines received so far.</summary>
    public IReadOnlyList<string> StdoutLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _stdout];
            }
        }
    }

    /// <summary>Snapshot of the stderr lines received so far.</summary>
    public IReadOnlyList<string> StderrLines
    {
        get
        {
            lock (_gate)
            {
                return [.. _stderr];
            }
        }
    }

    /// <summary>Path of the <c>dotnet</c> host: <c>DOTNET_HOST_PATH</c> (set by the SDK under <c>dotnet test</c>) or <c>dotnet</c> on PATH.</summary>
    public static string DotnetHost =>
        System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    /// <summary>Starts <c>dotnet {dllPath} {args}</c>.</summary>
    public static ChildProcess StartDotnet(string dllPath, IEnumerable<string> args, ChildProcessOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(dllPath);
        if (!File.Exists(dllPath))
        {
            throw new FileNotFoundException($"{dllPath} does not exist", dllPath);
        }

        return Start(DotnetHost, [dllPath, .. args], options);
    }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="args"/> (passed as an argument list, no shell).</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> args, ChildProcessOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(args);
        options ??= new ChildProcessOptions();
        var startInfo = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = options.WorkingDirectory ?? string.Empty,
        };
        foreach (var arg in args)
        {
            startInfo.ArgumentList.Add(arg);
        }

        foreach (var (key, value) in options.Environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(key);
            }
            else
            {
                startInfo.Environment[key] = value;
            }
        }

        return new ChildProcess(startInfo, options);
    }

    /// <summary>
    /// Waits for a stdout line matching <paramref name="match"/>, looking at lines from index
    /// <paramref name="fromLine"/> on (lines already received count), and returns it.
    /// </summary>
    /// <exception cref="TimeoutException">No such line within <paramref name="timeout"/> (message shows the output tail).</exception>
    /// <exception cref="InvalidOperationException">Stdout closed (the process exited) without such a line.</exception>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, int fromLine = 0, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(match);
        var clock = Stopwatch.StartNew();
        var next = fromLine;
        while (true)
        {
            Task changed;
            lock (_gate)
            {
                for (; next < _stdout.Count; next++)
                {
                    if (match(_stdout[next]))
                    {
                        return _stdout[next];
                    }
                }

                if (_stdoutClosed)
                {
                    throw new InvalidOperationException($"process {Id} closed stdout without the expected line. {Tail()}");
                }

                changed = _changed.Task;
            }

            var remaining = timeout - clock.Elapsed;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"no matching line from process {Id} within {timeout}. {TailLocked()}");
            }

            await Task.WhenAny(changed, Task.Delay(remaining, cancellationToken));
            cancellationToken.ThrowIfCancellationRequested();
        }
    }

    /// <summary>Number of stdout lines received so far (use as <c>fromLine</c> to wait only for later lines).</summary>
    public int StdoutLineCount
    {
        get
        {
            lock (_gate)
            {
                return _stdout.Count;
            }
        }
    }

    /// <summary>Writes one line to the child's stdin and flushes.</summary>
    public async Task WriteLineAsync(string line)
    {
        await _process.StandardInput.WriteLineAsync(line);
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Closes the child's stdin (it reads end-of-file).</summary>
    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>Sends SIGTERM (a graceful stop request).</summary>
    public void Terminate() => Signal(Posix.SIGTERM);

    /// <summary>Sends <paramref name="signal"/> (a Linux signal number) to the process.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited && Posix.kill(_process.Id, signal) != 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            if (!_process.HasExited)
            {
                throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed, errno {errno}");
            }
        }
    }

    /// <summary>SIGKILLs the process and its descendants (no-op once exited); does not wait.</summary>
    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    /// <summary>Waits for exit and for stdout/stderr to be fully read; returns the exit code.</summary>
    /// <exception cref="TimeoutException">Still running after <paramref name="timeout"/>.</exception>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            await Task.WhenAll(_stdoutPump, _stderrPump).WaitAsync(cts.Token);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new TimeoutException($"process {Id} did not exit within {timeout}. {TailLocked()}");
        }

        return _process.ExitCode;
    }

    /// <summary>Kills (SIGKILL) the process if it still runs and reaps it.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        Kill();
        // Process.WaitForExit reaps the child (no zombie) and lets the output pumps drain.
        _process.WaitForExit(TimeSpan.FromSeconds(30));
        _process.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The last lines of stdout and stderr, for failure messages.</summary>
    public string OutputTail() => TailLocked();

    private string TailLocked()
    {
        lock (_gate)
        {
            return Tail();
        }
    }

    private string Tail() =>
        $"stdout tail: [{string.Join(" | ", _stdout.TakeLast(10))}] stderr tail: [{string.Join(" | ", _stderr.TakeLast(10))}]";

    private async Task PumpAsync(StreamReader reader, List<string> lines, bool isStdout)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (_gate)
                {
                    lines.Add(line);
                    SignalChangeLocked();
                }
            }
        }
        catch (ObjectDisposedException)
        {
            // Disposed while reading: nothing more will arrive.
        }
        catch (IOException)
        {
            // Pipe broken by a kill: nothing more will arrive.
        }
        finally
        {
            lock (_gate)
            {
                if (isStdout)
                {
                    _stdoutClosed = true;
                }

                SignalChangeLocked();
            }
        }
    }

    private void SignalChangeLocked()
    {
        _changed.TrySetResult();
        _changed = NewSignal();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
