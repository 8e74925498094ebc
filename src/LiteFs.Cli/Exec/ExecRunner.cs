using System.Diagnostics;
using System.Runtime.InteropServices;

namespace LiteFs.Cli.Exec;

/// <summary>One <c>exec</c> entry: a command line, and whether it runs only on candidates.</summary>
internal sealed record ExecEntry(string Command, bool IfCandidate = false);

/// <summary>
/// Runs the <c>exec</c> subprocesses once the node is ready: every entry but the last runs to
/// completion and must succeed; the last runs in the background with LiteFS's stdout and stderr,
/// no stdin, and receives the SIGINT/SIGTERM that LiteFS receives.
/// </summary>
internal sealed partial class ExecRunner : IDisposable
{
    private Process? _background;

    /// <summary>The background process, once started.</summary>
    public Process? Background => _background;

    /// <summary>Runs the synchronous entries, then starts the last one. Entries with if-candidate are skipped on other nodes.</summary>
    public void Start(IReadOnlyList<ExecEntry> entries, bool candidate)
    {
        var runnable = entries.Where(e => candidate || !e.IfCandidate).ToList();
        for (var i = 0; i < runnable.Count; i++)
        {
            var process = Launch(runnable[i].Command);
            if (i == runnable.Count - 1)
            {
                _background = process;
                return;
            }
            using (process)
            {
                process.WaitForExit();
                if (process.ExitCode != 0)
                {
                    throw new InvalidOperationException($"cannot exec: sync cmd: cannot run command: exit status {process.ExitCode}");
                }
            }
        }
    }

    /// <summary>Sends <paramref name="signal"/> (a POSIX signal number) to the background process.</summary>
    public void Signal(int signal)
    {
        if (_background is { HasExited: false } p)
        {
            _ = Kill(p.Id, signal);
        }
    }

    private static Process Launch(string command)
    {
        var words = ShellWords.Split(command);
        if (words.Count == 0)
        {
            throw new InvalidOperationException("cannot exec: empty command");
        }
        var psi = new ProcessStartInfo(words[0])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
        };
        foreach (var arg in words.Skip(1))
        {
            psi.ArgumentList.Add(arg);
        }
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable("HOSTNAME")))
        {
            psi.Environment["HOSTNAME"] = Environment.MachineName;
        }
        Process process;
        try
        {
            process = Process.Start(psi) ?? throw new InvalidOperationException($"cannot exec: {words[0]}: not started");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException($"cannot exec: {words[0]}: {ex.Message}", ex);
        }
        // The subprocess gets no input: its stdin is closed at once.
        process.StandardInput.Close();
        return process;
    }

    public void Dispose() => _background?.Dispose();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
