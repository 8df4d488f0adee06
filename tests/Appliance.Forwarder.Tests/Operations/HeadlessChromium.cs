using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Appliance.Forwarder.Tests.Operations;

/// <summary>
/// Debian's chromium driven over the DevTools protocol (no npm, nothing installed at test time): one headless browser
/// with a fresh profile, one page, commands by id. The process tree and the profile are removed on dispose.
/// </summary>
public sealed class HeadlessChromium : IAsyncDisposable
{
    public const string Executable = "/usr/bin/chromium";

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly ConcurrentDictionary<int, TaskCompletionSource<JsonNode>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private Task? _reader;
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    public static async Task<HeadlessChromium> LaunchAsync()
    {
        Assert.True(File.Exists(Executable), $"{Executable} is missing: the test setup must run 'apt-get install chromium'");
        var profile = Path.Combine(Path.GetTempPath(), "chromium-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(profile);
        var psi = new ProcessStartInfo(Executable)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        foreach (var a in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--no-default-browser-check", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", $"--user-data-dir={profile}", "about:blank",
        })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var browser = new HeadlessChromium(process, profile);
        try
        {
            await browser.ConnectAsync();
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    public async Task<JsonNode> SendAsync(string method, object? parameters = null)
    {
        var id = Interlocked.Increment(ref _nextId);
        var tcs = new TaskCompletionSource<JsonNode>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = tcs;
        var message = JsonSerializer.SerializeToUtf8Bytes(new { id, method, @params = parameters ?? new { } });
        await _socket.SendAsync(message, WebSocketMessageType.Text, true, _stop.Token);
        var reply = await tcs.Task.WaitAsync(Timeout);
        if (reply["error"] is { } error)
        {
            throw new InvalidOperationException($"{method}: {error.ToJsonString()}");
        }

        return reply["result"]!;
    }

    /// <summary>Evaluates a JS expression in the page and returns its JSON value.</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var result = await SendAsync("Runtime.evaluate", new { expression, returnByValue = true, awaitPromise = true });
        if (result["exceptionDetails"] is { } ex)
        {
            throw new InvalidOperationException("page script failed: " + ex.ToJsonString());
        }

        return result["result"]?["value"];
    }

    /// <summary>Polls <paramref name="expression"/> until it is true.</summary>
    public async Task WaitUntilAsync(string expression, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (await EvaluateAsync(expression) is JsonValue v && v.TryGetValue<bool>(out var b) && b)
            {
                return;
            }

            Assert.True(clock.Elapsed < Timeout, $"page never showed {what} ({expression})");
            await Task.Delay(50);
        }
    }

    public async Task ScreenshotAsync(string path)
    {
        var result = await SendAsync("Page.captureScreenshot", new { format = "png", captureBeyondViewport = true });
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        await File.WriteAllBytesAsync(path, Convert.FromBase64String(result["data"]!.GetValue<string>()));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(2));
            }
            catch (Exception e) when (e is WebSocketException or TimeoutException or OperationCanceledException)
            {
                // The browser is killed next anyway.
            }
        }

        _socket.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync(CancellationToken.None).WaitAsync(Timeout);
        _process.Dispose();
        if (_reader is not null)
        {
            await Task.WhenAny(_reader, Task.Delay(Timeout));
        }

        _stop.Dispose();
        // Chromium's helpers may still be writing into the profile for a moment after the kill.
        var clock = Stopwatch.StartNew();
        while (Directory.Exists(_profile))
        {
            try
            {
                Directory.Delete(_profile, recursive: true);
            }
            catch (IOException) when (clock.Elapsed < Timeout)
            {
                await Task.Delay(100);
            }
        }
    }

    private async Task ConnectAsync()
    {
        var portFile = Path.Combine(_profile, "DevToolsActivePort");
        var clock = Stopwatch.StartNew();
        string[] lines;
        while (true)
        {
            Assert.False(_process.HasExited, $"chromium exited with {(_process.HasExited ? _process.ExitCode : 0)} before opening DevTools");
            if (File.Exists(portFile) && (lines = (await File.ReadAllTextAsync(portFile)).Split('\n', StringSplitOptions.RemoveEmptyEntries)).Length >= 2)
            {
                break;
            }

            Assert.True(clock.Elapsed < Timeout, "chromium did not open its DevTools port");
            await Task.Delay(50);
        }

        using var http = new HttpClient { Timeout = Timeout };
        var targets = JsonNode.Parse(await http.GetStringAsync(new Uri($"http://127.0.0.1:{lines[0].Trim()}/json/list")))!.AsArray();
        var page = targets.First(t => t!["type"]!.GetValue<string>() == "page")!;
        await _socket.ConnectAsync(new Uri(page["webSocketDebuggerUrl"]!.GetValue<string>()), _stop.Token);
        _reader = Task.Run(ReadLoopAsync);
        await SendAsync("Page.enable");
        await SendAsync("Runtime.enable");
    }

    private async Task ReadLoopAsync()
    {
        var buffer = new byte[1 << 16];
        var message = new MemoryStream();
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var r = await _socket.ReceiveAsync(buffer, _stop.Token);
                if (r.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage)
                {
                    continue;
                }

                var node = JsonNode.Parse(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length))!;
                message.SetLength(0);
                if (node["id"] is { } id && _pending.TryRemove(id.GetValue<int>(), out var tcs))
                {
                    tcs.TrySetResult(node);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or WebSocketException)
        {
            // Closing.
        }
        finally
        {
            foreach (var p in _pending.Values)
            {
                p.TrySetCanceled();
            }
        }
    }
}
