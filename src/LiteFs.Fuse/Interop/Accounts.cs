using System.Globalization;

namespace LiteFs.Fuse.Interop;

/// <summary>User and group names for messages: from /etc/passwd and /etc/group, else the number.</summary>
internal static class Accounts
{
    public static string UserName(uint uid) => Lookup("/etc/passwd", uid) ?? uid.ToString(CultureInfo.InvariantCulture);

    public static string GroupName(uint gid) => Lookup("/etc/group", gid) ?? gid.ToString(CultureInfo.InvariantCulture);

    private static string? Lookup(string file, uint id)
    {
        try
        {
            foreach (var line in File.ReadLines(file))
            {
                var fields = line.Split(':');
                if (fields.Length > 2 && uint.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n == id)
                {
                    return fields[0];
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }
}
