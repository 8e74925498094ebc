using System.Buffers.Binary;
using LiteFs.TestKit;

namespace LiteFs.Cli.Tests;

/// <summary>
/// The arm64 release executable, cross-compiled by <c>./build.sh release</c>, started under
/// qemu-user: it must be an aarch64 ELF file and run the same commands with the same output as the
/// build under test. (The x64 one is tested by running the whole suite against it: LITEFS_BIN.)
/// </summary>
public sealed class ReleaseBuildTests
{
    private const ushort ElfMachineAarch64 = 183;
    private const string Sysroot = "/usr/aarch64-linux-gnu";

    private static readonly Lazy<string> Arm64Binary = new(BuildArm64);

    [Fact]
    public void Arm64Executable_IsAnAarch64Elf()
    {
        var header = new byte[20];
        using (var file = File.OpenRead(Arm64Binary.Value))
        {
            file.ReadExactly(header);
        }
        Assert.Equal("\u007FELF"u8.ToArray(), header[..4]);
        Assert.Equal(2, header[4]); // 64-bit
        Assert.Equal(ElfMachineAarch64, BinaryPrimitives.ReadUInt16LittleEndian(header.AsSpan(18)));
    }

    [Fact]
    public void Arm64Executable_UnderQemu_PrintsTheVersion()
    {
        var (code, stdout, stderr) = RunArm64("version");
        Assert.True(code == 0, stderr);
        Assert.Equal(LiteFsCommand.Run("version").Stdout, stdout);
    }

    [Fact]
    public void Arm64Executable_UnderQemu_VerifiesGoldenLtxFiles()
    {
        var files = Directory.GetFiles(Path.Combine(RepoPaths.Golden, "wal-4096", "ltx"), "*.ltx").Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(files);
        var (code, stdout, stderr) = RunArm64(["ltx", "verify", .. files]);
        Assert.True(code == 0, stderr);
        Assert.Equal(files.Length, stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(line => line.Contains(": ok (", StringComparison.Ordinal)));
        Assert.Equal(LiteFsCommand.Run(["ltx", "verify", .. files]).Stdout, stdout);
    }

    [Fact]
    public void Arm64Executable_UnderQemu_RejectsACorruptFile()
    {
        using var temp = new TempDir("litefs-arm64");
        var bad = temp.Combine("bad.ltx");
        var bytes = File.ReadAllBytes(Path.Combine(RepoPaths.Golden, "wal-4096", "ltx", "0000000000000002-0000000000000002.ltx"));
        bytes[bytes.Length / 2] ^= 0xFF;
        File.WriteAllBytes(bad, bytes);
        var (code, stdout, _) = RunArm64("ltx", "verify", bad);
        Assert.NotEqual(0, code);
        Assert.DoesNotContain(": ok (", stdout, StringComparison.Ordinal);
    }

    private static (int ExitCode, string Stdout, string Stderr) RunArm64(params string[] args) =>
        ChildProcess.Run("qemu-aarch64", ["-L", Sysroot, Arm64Binary.Value, .. args], timeout: TimeSpan.FromMinutes(2));

    /// <summary>dist/litefs-linux-arm64, built first if it is missing or older than the sources (./test.sh builds it beforehand).</summary>
    private static string BuildArm64()
    {
        var (code, stdout, stderr) = ChildProcess.Run(Path.Combine(RepoPaths.Root, "build.sh"), ["release", "linux-arm64"], timeout: TimeSpan.FromMinutes(15));
        Assert.True(code == 0, $"./build.sh release linux-arm64 failed: {stdout}{stderr}");
        return Path.Combine(RepoPaths.Root, "dist", "litefs-linux-arm64");
    }
}
