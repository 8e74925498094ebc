using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A node running as its own <c>litefs mount</c> process, so a test can kill it. Disposing stops
/// it by PID and removes any mount it left behind.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private ChildProcess? _process;

    /// <param name="root">The node's directory: litefs.yml, data/ and mnt/ go there.</param>
    /// <param name="extraConfig">More litefs.yml text.</param>
    /// <param name="primaryUrl">A replica of this primary; null for a primary (the static lease's candidate).</param>
    public NodeProcess(string root, string extraConfig = "", string? primaryUrl = null)
    {
        Root = root;
        DataDir = Path.Combine(root, "data");
        MountPoint = Path.Combine(root, "mnt");
        ConfigPath = Path.Combine(root, "litefs.yml");
        Port = FreePort.Next();
        File.WriteAllText(ConfigPath, $"""
            fuse:
              dir: "{MountPoint}"
            data:
              dir: "{DataDir}"
              retention-monitor-interval: "0s"
            http:
              addr: "127.0.0.1:{Port}"
            lease:
              type: "static"
              candidate: {(primaryUrl is null ? "true" : "false")}
              hostname: "localhost"
              advertise-url: "{primaryUrl ?? $"http://127.0.0.1:{Port}"}"
            {extraConfig}
            """);
    }

    public string Root { get; }

    public string DataDir { get; }

    public string MountPoint { get; }

    public string ConfigPath { get; }

    /// <summary>The node API's port on 127.0.0.1.</summary>
    public int Port { get; }

    public ChildProcess Process => _process ?? throw new InvalidOperationException("not started");

    /// <summary>The node API's URL.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>The litefs command under test (<see cref="LiteFsCommand"/>): program and leading arguments.</summary>
    public static string[] Command => [LiteFsCommand.Program, .. LiteFsCommand.Arguments()];

    /// <summary>The command this node runs litefs with (program and leading arguments). Default <see cref="Command"/>.</summary>
    public string[] CommandLine { get; init; } = Command;

    /// <summary>Starts the node's process from a command line; by default as the test's own user.</summary>
    public Func<string[], ChildProcess> Launcher { get; init; } = static command => ChildProcess.Start(command[0], command[1..]);

    /// <summary>
    /// Copies the litefs program (the last word of <see cref="Command"/>) into <paramref name="folder"/>,
    /// with the files beside it when it is a .NET application, and returns the command that runs the copy:
    /// for a user who may not read the test host's folders.
    /// </summary>
    public static string[] CopyCommandTo(string folder)
    {
        var program = Command[^1];
        var source = Path.GetDirectoryName(program)!;
        Directory.CreateDirectory(folder);
        // A .NET application needs its assemblies; a native binary is one file.
        var files = File.Exists(Path.ChangeExtension(program, ".deps.json")) ? Directory.GetFiles(source) : [program];
        foreach (var file in files)
        {
            File.Copy(file, Path.Combine(folder, Path.GetFileName(file)), overwrite: true);
        }
        return [.. Command[..^1], Path.Combine(folder, Path.GetFileName(program))];
    }

    /// <summary>The arguments that run <c>litefs mount</c> on this node's config.</summary>
    public string[] MountCommandLine(params string[] extraArgs) => [.. CommandLine, "mount", "-config", ConfigPath, .. extraArgs];

    /// <summary>Starts <c>litefs mount</c> and waits until the mount is up.</summary>
    public void Start(params string[] extraArgs)
    {
        _process = Launcher(MountCommandLine(extraArgs));
        try
        {
            _process.WaitForOutput("LiteFS mounted to", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"node did not mount. stdout: {_process.Stdout} stderr: {_process.Stderr}");
        }
    }

    /// <summary>Kills the node with SIGKILL, leaving its mount stale, as a crash would.</summary>
    public void Kill()
    {
        Process.Signal(9);
        Process.WaitForExit(TimeSpan.FromSeconds(30));
    }

    /// <summary>Stops the node with SIGTERM and waits for it to unmount and exit.</summary>
    public int Stop()
    {
        Process.Signal(15);
        Assert.True(Process.WaitForExit(TimeSpan.FromSeconds(30)), "node did not stop on SIGTERM");
        return Process.ExitCode;
    }

    public void Dispose()
    {
        if (_process is { HasExited: false })
        {
            _process.Signal(9);
            _process.WaitForExit(TimeSpan.FromSeconds(30));
        }
        _process?.Dispose();
        if (Mounts.IsMounted(MountPoint))
        {
            Mounts.ForceDetach(MountPoint);
        }
    }
}
