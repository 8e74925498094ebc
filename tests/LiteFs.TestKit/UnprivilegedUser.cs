using System.Globalization;

namespace LiteFs.TestKit;

/// <summary>
/// A throwaway system user for tests that must run something unprivileged (the test host is root).
/// It can be granted FUSE access the documented way (group 'fuse' owning /dev/fuse with g+rw) and
/// 'user_allow_other' in /etc/fuse.conf. Dispose restores /dev/fuse's group and mode and
/// /etc/fuse.conf, and removes the user (and the 'fuse' group if it created it), even after failures.
/// </summary>
public sealed class UnprivilegedUser : IDisposable
{
    private const string Device = "/dev/fuse";
    private const string FuseConf = "/etc/fuse.conf";

    private readonly string _deviceMode;
    private readonly string _deviceGroup;
    private readonly string? _fuseConf;
    private readonly bool _createdFuseGroup;
    private readonly TempDir _home;

    /// <summary>Creates the user (requires root and useradd).</summary>
    public UnprivilegedUser()
    {
        var stat = Check("stat", "-c", "%a %g", Device).Trim().Split(' ');
        _deviceMode = stat[0];
        _deviceGroup = stat[1];
        _fuseConf = File.Exists(FuseConf) ? File.ReadAllText(FuseConf) : null;
        _createdFuseGroup = ChildProcess.Run("getent", ["group", "fuse"]).ExitCode != 0;
        Name = "lfs" + Guid.NewGuid().ToString("N")[..8];
        _home = new TempDir("litefs-user");
        try
        {
            Check("useradd", "--no-create-home", "--user-group", "--shell", "/usr/sbin/nologin", Name);
            Uid = int.Parse(Check("id", "-u", Name).Trim(), CultureInfo.InvariantCulture);
            Check("chown", Name, _home.Path);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The user name.</summary>
    public string Name { get; }

    /// <summary>The user id.</summary>
    public int Uid { get; }

    /// <summary>A directory the user owns (its HOME while running commands).</summary>
    public string Home => _home.Path;

    /// <summary>Adds the user to group 'fuse' and makes /dev/fuse group-readable and -writable.</summary>
    public void GrantFuseDevice()
    {
        if (_createdFuseGroup && ChildProcess.Run("getent", ["group", "fuse"]).ExitCode != 0)
        {
            Check("groupadd", "fuse");
        }
        Check("usermod", "-a", "-G", "fuse", Name);
        Check("chgrp", "fuse", Device);
        Check("chmod", "g+rw", Device);
    }

    /// <summary>Adds 'user_allow_other' to /etc/fuse.conf.</summary>
    public void PermitAllowOther() => File.AppendAllText(FuseConf, "\nuser_allow_other\n");

    /// <summary>Removes 'user_allow_other' from /etc/fuse.conf, if it is there.</summary>
    public void ForbidAllowOther()
    {
        if (File.Exists(FuseConf))
        {
            File.WriteAllLines(FuseConf, File.ReadAllLines(FuseConf).Where(line => line.Trim() != "user_allow_other"));
        }
    }

    /// <summary>The command line that runs <paramref name="program"/> as this user (setpriv, with its groups, HOME set to <see cref="Home"/>).</summary>
    public string[] CommandLine(string program, params string[] arguments) =>
        ["setpriv", "--reuid", Name, "--regid", Name, "--init-groups", "--", "env", $"HOME={Home}", "DOTNET_CLI_TELEMETRY_OPTOUT=1", program, .. arguments];

    /// <summary>Starts <paramref name="program"/> as this user (see <see cref="CommandLine"/>).</summary>
    public ChildProcess Start(string program, params string[] arguments)
    {
        var command = CommandLine(program, arguments);
        return ChildProcess.Start(command[0], command[1..]);
    }

    /// <summary>Runs a shell command as this user.</summary>
    public (int ExitCode, string Stdout, string Stderr) Shell(string command)
    {
        using var child = Start("/bin/sh", "-c", command);
        child.CloseStdin();
        if (!child.WaitForExit(TimeSpan.FromMinutes(1)))
        {
            throw new TimeoutException($"'{command}' as {Name} did not finish.");
        }
        return (child.ExitCode, child.Stdout, child.Stderr);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        var failures = new List<string>();
        void Try(Action action)
        {
            try
            {
                action();
            }
#pragma warning disable CA1031 // Restore everything we can, then report.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                failures.Add(exception.Message);
            }
        }
        Try(() => Check("chgrp", _deviceGroup, Device));
        Try(() => Check("chmod", _deviceMode, Device));
        Try(() =>
        {
            if (_fuseConf is null)
            {
                File.Delete(FuseConf);
            }
            else
            {
                File.WriteAllText(FuseConf, _fuseConf);
            }
        });
        Try(() =>
        {
            if (ChildProcess.Run("id", ["-u", Name]).ExitCode == 0)
            {
                Check("userdel", Name);
            }
        });
        Try(() =>
        {
            if (_createdFuseGroup && ChildProcess.Run("getent", ["group", "fuse"]).ExitCode == 0)
            {
                Check("groupdel", "fuse");
            }
        });
        Try(_home.Dispose);
        if (failures.Count > 0)
        {
            throw new InvalidOperationException("restoring the system after the unprivileged-user test failed: " + string.Join("; ", failures));
        }
    }

    private static string Check(string program, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = ChildProcess.Run(program, arguments);
        if (exitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed ({exitCode}): {stderr}");
        }
        return stdout;
    }
}
