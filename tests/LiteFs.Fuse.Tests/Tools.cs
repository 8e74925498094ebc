using LiteFs.TestKit;

namespace LiteFs.Fuse.Tests;

/// <summary>Finds the programs the tests drive: the loopback tool built beside this assembly, sqlite3, dotnet.</summary>
internal static class Tools
{
    /// <summary>bin/LiteFs.Fuse.Loopback/&lt;configuration&gt;/litefs-loopback.dll beside this test's output folder.</summary>
    public static string LoopbackDll
    {
        get
        {
            var testOutput = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd('/'));
            var path = Path.Combine(testOutput.Parent!.Parent!.FullName, "LiteFs.Fuse.Loopback", testOutput.Name, "litefs-loopback.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"The loopback tool was not built: {path}");
        }
    }

    public static string Dotnet =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    /// <summary>Starts the loopback tool as a child process and waits until it has mounted.</summary>
    public static ChildProcess StartLoopback(string source, string mountPoint, params string[] options)
    {
        // With SIGINT's default disposition: a test run started as a background job inherits it
        // ignored, and the signal tests send SIGINT.
        var child = ChildProcess.Start("env", ["--default-signal=INT", Dotnet, LoopbackDll, source, mountPoint, .. options]);
        try
        {
            child.WaitForOutput("mounted ", TimeSpan.FromSeconds(60));
            return child;
        }
        catch
        {
            child.Dispose();
            Mounts.ForceDetach(mountPoint);
            throw;
        }
    }

    /// <summary>Runs the sqlite3 shell on a database with a script on stdin.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Sqlite3(string database, string script, TimeSpan? timeout = null) =>
        ChildProcess.Run("sqlite3", ["-batch", database], script, timeout ?? TimeSpan.FromMinutes(2));
}
