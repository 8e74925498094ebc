using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>
/// Mounting as an unprivileged user through fusermount3, in a separate process run as that user,
/// and the errors such a user gets without access.
/// </summary>
public sealed class NonRootTests : IDisposable
{
    private readonly UnprivilegedUser _user = new();
    private readonly string _tool;
    private readonly string _source;
    private readonly string _mountPoint;

    public NonRootTests()
    {
        // Everything the user touches lives in its own HOME: the test host's folders may be private to root.
        _tool = Path.Combine(_user.Home, "tool");
        CopyDirectory(Path.GetDirectoryName(Tools.LoopbackDll)!, _tool);
        _source = Path.Combine(_user.Home, "source");
        _mountPoint = Path.Combine(_user.Home, "mnt");
        var setup = ChildProcess.Run("/bin/sh", ["-c", $"chmod -R a+rX '{_tool}' && chmod 755 '{_user.Home}'"]);
        Assert.Equal(0, setup.ExitCode);
        Assert.Equal(0, _user.Shell($"mkdir '{_source}' '{_mountPoint}' && echo hello > '{_source}/hello.txt'").ExitCode);
    }

    public void Dispose()
    {
        Mounts.ForceDetach(_mountPoint);
        _user.Dispose();
    }

    private ChildProcess StartTool(params string[] options) =>
        _user.Start(Tools.Dotnet, [Path.Combine(_tool, "litefs-loopback.dll"), _source, _mountPoint, .. options]);

    private void Stop(ChildProcess tool)
    {
        tool.Signal(15);
        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(30)), "the loopback tool did not exit on SIGTERM");
        Assert.Equal(0, tool.ExitCode);
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void WithoutDeviceAccess_FailsWithTheClearMessage()
    {
        using var tool = StartTool();
        tool.CloseStdin();
        Assert.True(tool.WaitForExit(TimeSpan.FromSeconds(60)));

        Assert.Equal(1, tool.ExitCode);
        var device = ChildProcess.Run("stat", ["-c", "%G %a", "/dev/fuse"]).Stdout.Trim().Split(' ');
        Assert.StartsWith(
            $"litefs-loopback: cannot open /dev/fuse: permission denied (running as uid {_user.Uid}, user {_user.Name}; " +
            $"/dev/fuse has group '{device[0]}' and mode 0{device[1]}). Run as root, or give group 'fuse' read and write access to /dev/fuse " +
            $"and add this user to it (groupadd -f fuse; chgrp fuse /dev/fuse; chmod g+rw /dev/fuse; usermod -aG fuse {_user.Name}), then log in again",
            tool.Stderr, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(_mountPoint));
    }

    [Fact]
    public void WithDeviceAccess_MountsThroughFusermount_OnlyTheUserCanUseIt()
    {
        _user.GrantFuseDevice();
        using var tool = StartTool();
        tool.WaitForOutput("mounted ", TimeSpan.FromSeconds(60));

        var session = _user.Shell($"cat '{_mountPoint}/hello.txt' && echo written > '{_mountPoint}/new.txt' && cat '{_mountPoint}/new.txt'");
        Assert.True(session.ExitCode == 0, session.Stderr);
        Assert.Equal("hello\nwritten\n", session.Stdout);
        Assert.Equal("written\n", File.ReadAllText(Path.Combine(_source, "new.txt")));
        // Without allow_other, not even root may enter another user's FUSE mount.
        Assert.Throws<UnauthorizedAccessException>(() => File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));

        Stop(tool);
    }

    [Fact]
    public void AllowOther_NeedsUserAllowOther_ThenOthersCanUseIt()
    {
        _user.GrantFuseDevice();
        using (var refused = StartTool("--allow-other"))
        {
            refused.CloseStdin();
            Assert.True(refused.WaitForExit(TimeSpan.FromSeconds(60)));
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("/etc/fuse.conf does not contain 'user_allow_other'", refused.Stderr, StringComparison.Ordinal);
        }

        _user.PermitAllowOther();
        using var tool = StartTool("--allow-other");
        tool.WaitForOutput("mounted ", TimeSpan.FromSeconds(60));

        Assert.Equal("hello\n", File.ReadAllText(Path.Combine(_mountPoint, "hello.txt")));
        File.WriteAllText(Path.Combine(_mountPoint, "from-root.txt"), "root was here");
        var session = _user.Shell($"cat '{_mountPoint}/from-root.txt'");
        Assert.Equal("root was here\n", session.Stdout);

        Stop(tool);
    }

    private static void CopyDirectory(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        }
    }
}
