using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A node running as its own <c>litefs mount</c> process, so a test can kill it. Disposing stops
/// it by PID and removes any mount it left behind.
/// </summary>
public sealed class NodeProcess : IDisposable
{
    private ChildProcess? _process;

    public NodeProcess(string root, string extraConfig = "")
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
              candidate: true
              hostname: "localhost"
              advertise-url: "http://127.0.0.1:{Port}"
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

    /// <summary>Starts <c>litefs mount</c> and waits until the mount is up.</summary>
    public void Start(params string[] extraArgs)
    {
        _process = LiteFsCommand.Start(["mount", "-config", ConfigPath, .. extraArgs]);
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
