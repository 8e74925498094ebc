using System.Globalization;

namespace LiteFs.TestKit;

/// <summary>
/// A small file system of its own at a directory (a tmpfs with <c>size=</c>, root only), for
/// tests that fill a node's data directory: <see cref="Fill"/> takes all its free space with a
/// filler file, <see cref="Free"/> gives it back. Disposing unmounts it by path (lazily, so a
/// process that still has files open there does not keep it mounted).
/// </summary>
public sealed class SmallDisk : IDisposable
{
    private const string FillerName = ".filler";

    private SmallDisk(string path)
    {
        Path = path;
    }

    /// <summary>Where the file system is mounted.</summary>
    public string Path { get; }

    /// <summary>Mounts a tmpfs of <paramref name="bytes"/> at <paramref name="path"/> (created if missing).</summary>
    public static SmallDisk Mount(string path, long bytes)
    {
        Directory.CreateDirectory(path);
        var (code, _, stderr) = ChildProcess.Run("mount", ["-t", "tmpfs", "-o", string.Create(CultureInfo.InvariantCulture, $"size={bytes},mode=0755"), "tmpfs", path],
            timeout: TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new InvalidOperationException($"cannot mount a tmpfs at {path} (exit {code}): {stderr}");
        }
        return new SmallDisk(path);
    }

    /// <summary>Free bytes on the file system now (statvfs, as root sees it).</summary>
    public long FreeBytes()
    {
        var (code, stdout, stderr) = ChildProcess.Run("stat", ["-f", "-c", "%f %S", Path], timeout: TimeSpan.FromSeconds(30));
        if (code != 0)
        {
            throw new InvalidOperationException($"stat -f {Path} failed ({code}): {stderr}");
        }
        var parts = stdout.Trim().Split(' ');
        return long.Parse(parts[0], CultureInfo.InvariantCulture) * long.Parse(parts[1], CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Takes the free space but <paramref name="leave"/> bytes with a filler file (grown further
    /// if called again). Returns the free bytes left.
    /// </summary>
    public long Fill(long leave = 0)
    {
        var filler = System.IO.Path.Combine(Path, FillerName);
        var grow = FreeBytes() - leave;
        if (grow > 0)
        {
            // Unbuffered: nothing is left to flush (and fail again) once the disk is full.
            using var file = new FileStream(filler, FileMode.Append, FileAccess.Write, FileShare.None, bufferSize: 0);
            var chunk = new byte[1 << 16];
            Array.Fill(chunk, (byte)0x5A);
            try
            {
                for (long written = 0; written < grow; written += chunk.Length)
                {
                    file.Write(chunk, 0, (int)Math.Min(chunk.Length, grow - written));
                }
            }
            catch (IOException)
            {
                // Full before the count: what was wanted.
            }
        }
        return FreeBytes();
    }

    /// <summary>Removes the filler file: the space it took is free again.</summary>
    public void Free() => File.Delete(System.IO.Path.Combine(Path, FillerName));

    /// <inheritdoc />
    public void Dispose()
    {
        if (Mounts.IsMounted(Path))
        {
            _ = ChildProcess.Run("umount", ["-l", Path], timeout: TimeSpan.FromSeconds(30));
        }
    }
}
