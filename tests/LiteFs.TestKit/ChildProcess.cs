using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace LiteFs.TestKit;

/// <summary>
/// A process a test started: output captured line by line, signals sent by PID, and on dispose
/// killed by PID (never by name) if it is still running.
/// </summary>
public sealed partial class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly object _lock = new();

    private ChildProcess(Process process)
    {
        _process = process;
    }

    /// <summary>The process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The exit code (after exit).</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Everything written to stdout so far.</summary>
    public string Stdout
    {
        get
        {
            lock (_lock)
            {
                return _stdout.ToString();
            }
        }
    }

    /// <summary>Everything written to stderr so far.</summary>
    public string Stderr
    {
        get
        {
            lock (_lock)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="arguments"/>; stdin stays open for <see cref="WriteStdin"/>.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var child = new ChildProcess(process);
        process.OutputDataReceived += (_, e) => child.Append(child._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => child.Append(child._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void Append(StringBuilder target, string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_lock)
        {
            target.Append(line).Append('\n');
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Writes to the process's stdin.</summary>
    public void WriteStdin(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>Closes the process's stdin.</summary>
    public void CloseStdin() => _process.StandardInput.Close();

    /// <summary>
    /// Waits until stdout contains <paramref name="text"/>; fails with the captured output when the
    /// process exits first or <paramref name="timeout"/> passes.
    /// </summary>
    public void WaitForOutput(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            lock (_lock)
            {
                if (_stdout.ToString().Contains(text, StringComparison.Ordinal))
                {
                    return;
                }
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException($"'{text}' did not appear within {timeout}. stdout: {_stdout} stderr: {_stderr}");
                }
                if (!_process.HasExited)
                {
                    Monitor.Wait(_lock, TimeSpan.FromMilliseconds(Math.Min(left.TotalMilliseconds, 100)));
                    continue;
                }
            }
            // Exited: wait, outside the lock the readers need, until all its output has arrived.
            _process.WaitForExit();
            lock (_lock)
            {
                if (!_stdout.ToString().Contains(text, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException(
                        $"the process exited ({_process.ExitCode}) before printing '{text}'. stdout: {_stdout} stderr: {_stderr}");
                }
                return;
            }
        }
    }

    /// <summary>Waits for the process to exit; false on timeout.</summary>
    public bool WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            return false;
        }
        _process.WaitForExit(); // Drains the asynchronous output readers.
        return true;
    }

    /// <summary>Sends <paramref name="signal"/> (e.g. 15 for SIGTERM, 9 for SIGKILL) to this process by PID.</summary>
    public void Signal(int signal)
    {
        if (!_process.HasExited && Kill(_process.Id, signal) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != 3) // ESRCH: it exited meanwhile.
            {
                throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {errno}");
            }
        }
    }

    /// <summary>Runs a program to completion and returns its exit code and output.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string fileName, IEnumerable<string> arguments,
        string? stdin = null, TimeSpan? timeout = null, IDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        using var child = Start(fileName, arguments, environment, workingDirectory);
        if (stdin is not null)
        {
            child.WriteStdin(stdin);
        }
        child.CloseStdin();
        var limit = timeout ?? TimeSpan.FromMinutes(1);
        if (!child.WaitForExit(limit))
        {
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {limit}. stderr: {child.Stderr}");
        }
        return (child.ExitCode, child.Stdout, child.Stderr);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _ = Kill(_process.Id, 9);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
