using LiteFs.TestKit;

namespace LiteFs.IntegrationTests;

/// <summary>
/// A throwaway user with FUSE access (group 'fuse' on /dev/fuse) and a copy of litefs in its HOME
/// (the test host's folders may be private to root), shared by <see cref="NonRootMountTests"/>.
/// Disposing restores /dev/fuse and /etc/fuse.conf and removes the user.
/// </summary>
public sealed class NonRootUser : IDisposable
{
    public NonRootUser()
    {
        User = new UnprivilegedUser();
        try
        {
            User.GrantFuseDevice();
            Command = NodeProcess.CopyCommandTo(Path.Combine(User.Home, "litefs"));
            // Other test users run this copy too.
            var setup = ChildProcess.Run("/bin/sh", ["-c", $"chmod -R a+rX '{User.Home}/litefs' && chmod 755 '{User.Home}'"]);
            Assert.Equal(0, setup.ExitCode);
        }
        catch
        {
            User.Dispose();
            throw;
        }
    }

    public UnprivilegedUser User { get; }

    /// <summary>The command that runs the copy of litefs.</summary>
    public string[] Command { get; }

    public void Dispose() => User.Dispose();
}

/// <summary>
/// <c>litefs mount</c> run as an unprivileged user: each start-up check that refuses to start
/// (naming the cause and the fix), and a primary and a replica run as that user through
/// fusermount3, with allow_other and -skip-unmount.
/// </summary>
public sealed class NonRootMountTests(NonRootUser shared) : IClassFixture<NonRootUser>, IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private readonly string _case = Path.Combine(shared.User.Home, "case-" + Guid.NewGuid().ToString("N")[..8]);

    private UnprivilegedUser User => shared.User;

    public void Dispose()
    {
        try
        {
            Directory.Delete(_case, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
        }
    }

    [Fact]
    public void DeviceMissing_SaysToPassTheDevice()
    {
        using var node = Node("node");
        using var hidden = new TempDir("litefs-hide");
        var (code, stdout, stderr) = RunToExit(node, HidingFiles(hidden, User, "/dev/fuse"));

        AssertRefused(node, code, stdout, stderr);
        Assert.Contains("cannot open /dev/fuse: no such device file.", stderr, StringComparison.Ordinal);
        Assert.Contains("in a container pass --device /dev/fuse", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void DeviceNotAccessible_NamesGroupAndMode_AndTheFix()
    {
        // A user of its own, outside group 'fuse'.
        using var other = new UnprivilegedUser();
        using var node = Node("node", user: other);
        var device = ChildProcess.Run("stat", ["-c", "%G %a", "/dev/fuse"]).Stdout.Trim().Split(' ');
        var (code, stdout, stderr) = RunToExit(node);

        AssertRefused(node, code, stdout, stderr);
        Assert.Contains(
            $"cannot open /dev/fuse: permission denied (running as uid {other.Uid}, user {other.Name}; " +
            $"/dev/fuse has group '{device[0]}' and mode 0{device[1]}). Run as root, or ",
            stderr, StringComparison.Ordinal);
        Assert.Contains($"chgrp fuse /dev/fuse; chmod g+rw /dev/fuse; usermod -aG fuse {other.Name}), then log in again", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void FusermountMissing_SaysToInstallFuse3()
    {
        using var node = Node("node");
        using var hidden = new TempDir("litefs-hide");
        var (code, stdout, stderr) = RunToExit(node, HidingFiles(hidden, User, [.. FusermountCopies()]));

        AssertRefused(node, code, stdout, stderr);
        Assert.Contains($"cannot mount as uid {User.Uid}: fusermount3 was not found. Install the fuse3 package", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void AllowOther_WithoutUserAllowOther_SaysToAddIt()
    {
        User.ForbidAllowOther();
        using var node = Node("node", allowOther: true);
        var (code, stdout, stderr) = RunToExit(node);

        AssertRefused(node, code, stdout, stderr);
        Assert.Contains($"with allow_other as uid {User.Uid}: /etc/fuse.conf does not contain 'user_allow_other'", stderr, StringComparison.Ordinal);
        Assert.Contains("Add that line to /etc/fuse.conf", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("fuse.dir", true)]
    [InlineData("fuse.dir", false)]
    [InlineData("data.dir", true)]
    [InlineData("data.dir", false)]
    public void DirectoryOfAnotherUser_NamesOwner_AndTheFix(string setting, bool exists)
    {
        // Either the directory itself is root's, or the node's directory it would be created in is.
        var rootOwnedNode = !exists;
        using var node = Node("node", rootOwned: rootOwnedNode);
        var dir = setting == "fuse.dir" ? node.MountPoint : node.DataDir;
        if (exists)
        {
            Directory.CreateDirectory(dir);
        }
        if (setting == "data.dir" && !exists)
        {
            // The mount directory is fine; only the data directory cannot be created.
            Directory.CreateDirectory(node.MountPoint);
            Assert.Equal(0, ChildProcess.Run("chown", [User.Name, node.MountPoint]).ExitCode);
        }
        var (code, stdout, stderr) = RunToExit(node);

        AssertRefused(node, code, stdout, stderr);
        var who = $"uid {User.Uid} (user {User.Name})";
        var expected = (setting, exists) switch
        {
            ("fuse.dir", true) => $"cannot mount on {dir} as {who}: it is owned by root with mode 0755, and fusermount3 mounts only on a directory " +
                $"the user may write. Give it to this user (chown {User.Name} {dir})",
            ("data.dir", true) => $"cannot use {dir} (data.dir): it is owned by root with mode 0755 and {who} may not write to it. " +
                $"Give it to this user (chown -R {User.Name} {dir})",
            _ => $"cannot create {dir} ({setting}): {node.Root} is owned by root with mode 0755 and {who} may not write to it. " +
                $"Create it for this user (as root: mkdir -p {dir}; chown {User.Name} {dir})",
        };
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void SkipUnmount_KeepsAStaleMount_WithoutIt_TheUserDetachesIt()
    {
        using var node = Node("node");
        node.Start();
        node.Kill();
        Assert.True(Mounts.IsMounted(node.MountPoint), "a killed node leaves its mount behind");

        var (code, stdout, stderr) = RunToExit(node, extraArgs: ["-skip-unmount"]);
        Assert.Equal(1, code);
        Assert.Contains($"cannot mount on {node.MountPoint}: a stale FUSE mount is there", stderr, StringComparison.Ordinal);
        Assert.Contains("start without -skip-unmount", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("http server listening", stdout, StringComparison.Ordinal);
        Assert.True(Mounts.IsMounted(node.MountPoint), "-skip-unmount must leave the stale mount alone");

        using var restarted = Node("node");
        restarted.Start();
        Assert.Contains("was a stale FUSE mount", restarted.Process.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, restarted.Stop());
        Assert.False(Mounts.IsMounted(node.MountPoint));
    }

    [Fact]
    public void PrimaryAndReplica_AsTheUser_WriteReplicateAndStopCleanly()
    {
        using var primary = Node("primary");
        primary.Start();
        using var replica = Node("replica", primaryUrl: primary.Url);
        replica.Start();

        var write = User.Shell($"sqlite3 '{primary.MountPoint}/app.db' \"PRAGMA journal_mode=wal; CREATE TABLE t (v); INSERT INTO t VALUES ('by user');\"");
        Assert.True(write.ExitCode == 0, write.Stderr);
        WaitUntil(() => User.Shell($"sqlite3 '{replica.MountPoint}/app.db' 'SELECT v FROM t'").Stdout == "by user\n", "the replica to show the row");
        // Without allow_other, not even root may enter the user's mount.
        Assert.Throws<UnauthorizedAccessException>(() => File.ReadAllBytes(Path.Combine(primary.MountPoint, "app.db")));

        Assert.Equal(0, replica.Stop());
        Assert.Equal(0, primary.Stop());
        Assert.False(Mounts.IsMounted(primary.MountPoint));
        Assert.False(Mounts.IsMounted(replica.MountPoint));
        foreach (var node in (ReadOnlySpan<NodeProcess>)[primary, replica])
        {
            Assert.Contains("mounted " + node.MountPoint + " (fusermount3)", node.Process.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("passthrough", node.Process.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("level=ERROR", node.Process.Stderr, StringComparison.Ordinal);
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(node.DataDir, "dbs", "app.db", "ltx"), "*.ltx"));
        }
    }

    [Fact]
    public void AllowOther_WithUserAllowOther_RootReadsTheUsersDatabase()
    {
        User.PermitAllowOther();
        using var node = Node("node", allowOther: true);
        node.Start();
        var write = User.Shell($"sqlite3 '{node.MountPoint}/app.db' \"CREATE TABLE t (v); INSERT INTO t VALUES ('by user');\"");
        Assert.True(write.ExitCode == 0, write.Stderr);

        var read = ChildProcess.Run("sqlite3", ["-readonly", Path.Combine(node.MountPoint, "app.db"), "SELECT v FROM t"]);
        Assert.True(read.ExitCode == 0, read.Stderr);
        Assert.Equal("by user\n", read.Stdout);

        Assert.Equal(0, node.Stop());
        Assert.False(Mounts.IsMounted(node.MountPoint));
    }

    /// <summary>A node whose directory is under this case's folder, run as <paramref name="user"/> (default: the shared user).</summary>
    private NodeProcess Node(string name, string? primaryUrl = null, bool allowOther = false, bool rootOwned = false, UnprivilegedUser? user = null)
    {
        user ??= User;
        var root = Path.Combine(_case, name);
        Directory.CreateDirectory(root);
        if (!rootOwned)
        {
            Assert.Equal(0, ChildProcess.Run("chown", [user.Name, _case, root]).ExitCode);
        }
        var node = new NodeProcess(root, primaryUrl: primaryUrl)
        {
            CommandLine = shared.Command,
            Launcher = command => user.Start(command[0], command[1..]),
        };
        if (allowOther)
        {
            File.WriteAllText(node.ConfigPath, File.ReadAllText(node.ConfigPath).Replace("fuse:\n", "fuse:\n  allow-other: true\n", StringComparison.Ordinal));
        }
        return node;
    }

    /// <summary>Runs <c>litefs mount</c> for a node that is expected to stop on its own; the node's dispose cleans up.</summary>
    private static (int ExitCode, string Stdout, string Stderr) RunToExit(NodeProcess node, Func<string[], ChildProcess>? launcher = null, params string[] extraArgs)
    {
        using var child = (launcher ?? node.Launcher)(node.MountCommandLine(extraArgs));
        child.CloseStdin();
        Assert.True(child.WaitForExit(Timeout), $"litefs did not exit. stdout: {child.Stdout} stderr: {child.Stderr}");
        return (child.ExitCode, child.Stdout, child.Stderr);
    }

    /// <summary>A refusal at start-up: exit status 1, and nothing started (no mount, no data directory, no API).</summary>
    private static void AssertRefused(NodeProcess node, int code, string stdout, string stderr)
    {
        Assert.True(code == 1, $"exit status {code}. stdout: {stdout} stderr: {stderr}");
        Assert.StartsWith("ERROR: ", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("http server listening", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("LiteFS mounted", stdout, StringComparison.Ordinal);
        Assert.False(Mounts.IsMounted(node.MountPoint));
        Assert.False(Directory.Exists(Path.Combine(node.DataDir, "dbs")), "the store was opened");
    }

    /// <summary>
    /// Runs a command as <paramref name="user"/> in a mount namespace of its own where
    /// <paramref name="paths"/> do not exist: each one's directory is overlaid with a whiteout
    /// for it. Nothing outside the namespace changes, and it ends with the process.
    /// </summary>
    private static Func<string[], ChildProcess> HidingFiles(TempDir scratch, UnprivilegedUser user, params string[] paths) => command =>
    {
        var script = new List<string>();
        foreach (var (dir, index) in paths.GroupBy(path => Path.GetDirectoryName(path)!).Select((group, index) => (group, index)))
        {
            var upper = scratch.Combine($"upper{index}");
            var work = scratch.Combine($"work{index}");
            Directory.CreateDirectory(upper);
            Directory.CreateDirectory(work);
            foreach (var path in dir)
            {
                Assert.Equal(0, ChildProcess.Run("mknod", [Path.Combine(upper, Path.GetFileName(path)), "c", "0", "0"]).ExitCode);
            }
            script.Add($"mount -t overlay overlay -o lowerdir={dir.Key},upperdir={upper},workdir={work} {dir.Key}");
        }
        script.Add("exec \"$@\"");
        return ChildProcess.Start("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-ec", string.Join('\n', script), "sh", .. user.CommandLine(command[0], command[1..])]);
    };

    /// <summary>Every real place fusermount3 would be found (PATH, /bin, /usr/bin), links resolved.</summary>
    private static IEnumerable<string> FusermountCopies() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/bin", "/usr/bin"])
            .Where(dir => File.Exists(Path.Combine(dir, "fusermount3")))
            .Select(dir => Path.Combine(new DirectoryInfo(dir).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? dir, "fusermount3"))
            .Distinct();

    private static void WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(100);
        }
    }
}
