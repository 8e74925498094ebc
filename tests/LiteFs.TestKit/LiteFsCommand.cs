namespace LiteFs.TestKit;

/// <summary>
/// The <c>litefs</c> command under test: the executable named by <c>$LITEFS_BIN</c> when set (a
/// release build from <c>./build.sh release</c>, so the shipped binary is the tested one), else
/// the framework-dependent build copied next to the test assembly, run with <c>dotnet</c>.
/// </summary>
public static class LiteFsCommand
{
    /// <summary>The native executable from <c>$LITEFS_BIN</c>, or null to run the build next to the tests.</summary>
    public static string? NativeBinary { get; } = Environment.GetEnvironmentVariable("LITEFS_BIN") is { Length: > 0 } path
        ? CheckedBinary(Path.GetFullPath(path))
        : null;

    /// <summary>The program to start.</summary>
    public static string Program => NativeBinary ?? "dotnet";

    /// <summary>The framework-dependent build's folder (next to the test assembly), or the native binary's.</summary>
    public static string Directory => NativeBinary is { } binary ? Path.GetDirectoryName(binary)! : AppContext.BaseDirectory;

    /// <summary>The program's arguments for running <c>litefs</c> with <paramref name="args"/>.</summary>
    public static string[] Arguments(params string[] args) =>
        NativeBinary is null ? [Path.Combine(AppContext.BaseDirectory, "litefs.dll"), .. args] : args;

    /// <summary>Starts <c>litefs</c> with <paramref name="args"/>.</summary>
    public static ChildProcess Start(IDictionary<string, string>? environment, params string[] args) =>
        ChildProcess.Start(Program, Arguments(args), environment);

    /// <summary>Starts <c>litefs</c> with <paramref name="args"/>.</summary>
    public static ChildProcess Start(params string[] args) => Start(null, args);

    /// <summary>Runs <c>litefs</c> with <paramref name="args"/> to the end.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] args) => ChildProcess.Run(Program, Arguments(args));

    private static string CheckedBinary(string path) => File.Exists(path)
        ? path
        : throw new FileNotFoundException($"LITEFS_BIN names {path}, which does not exist; build it with ./build.sh release, or unset LITEFS_BIN to test the build next to the tests.");
}
