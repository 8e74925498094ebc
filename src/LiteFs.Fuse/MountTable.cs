using System.Text;

namespace LiteFs.Fuse;

/// <summary>One line of /proc/self/mountinfo.</summary>
internal sealed record MountInfo(string MountPoint, string FileSystemType, string Source);

/// <summary>Reads the kernel's mount table.</summary>
internal static class MountTable
{
    /// <summary>Every mount whose mount point is exactly <paramref name="path"/> (stacked mounts give several).</summary>
    public static List<MountInfo> At(string path)
    {
        var found = new List<MountInfo>();
        foreach (var line in File.ReadLines("/proc/self/mountinfo"))
        {
            var info = Parse(line);
            if (info is not null && info.MountPoint == path)
            {
                found.Add(info);
            }
        }
        return found;
    }

    /// <summary>Parses "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/root rw".</summary>
    public static MountInfo? Parse(string line)
    {
        var separator = line.IndexOf(" - ", StringComparison.Ordinal);
        if (separator < 0)
        {
            return null;
        }
        var head = line[..separator].Split(' ');
        var tail = line[(separator + 3)..].Split(' ');
        if (head.Length < 5 || tail.Length < 2)
        {
            return null;
        }
        return new MountInfo(Unescape(head[4]), Unescape(tail[0]), Unescape(tail[1]));
    }

    /// <summary>Undoes the kernel's octal escapes (\040 for a space, \011, \012, \134).</summary>
    public static string Unescape(string value)
    {
        if (!value.Contains('\\', StringComparison.Ordinal))
        {
            return value;
        }
        var bytes = new List<byte>(value.Length);
        for (var i = 0; i < value.Length; i++)
        {
            if (value[i] == '\\' && i + 3 < value.Length && IsOctal(value[i + 1]) && IsOctal(value[i + 2]) && IsOctal(value[i + 3]))
            {
                bytes.Add(Convert.ToByte(value.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(value[i].ToString()));
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
