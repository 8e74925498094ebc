using System.Globalization;
using LiteFs.Fuse;
using LiteFs.Fuse.Loopback;
using Microsoft.Extensions.Logging;

// litefs-loopback SOURCE MOUNTPOINT [options]: mirrors SOURCE at MOUNTPOINT until SIGINT/SIGTERM or
// an external unmount. Prints "mounted MOUNTPOINT" on stdout once the mount is usable.
const string Usage = """
    usage: litefs-loopback SOURCE MOUNTPOINT [options]
      --allow-other            let other users use the mount (allow_other)
      --default-permissions    let the kernel check permissions (default_permissions)
      --passthrough            serve file I/O through FUSE passthrough (root, Linux 6.9+)
      --kernel-locks           keep POSIX locks in the kernel instead of the file system
      --negative-timeout SECS  cache missing names for SECS seconds (default 0)
      --readers N              reader threads (default 4)
      --fusermount             mount through fusermount3 even as root
      --debug                  log every FUSE request and reply to stderr
    """;

var positional = new List<string>();
var mountOptions = new MountOptions { UnmountOnSignals = true, FsName = "loopback" };
var loopbackOptions = new LoopbackOptions();
var debug = false;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--allow-other": mountOptions.AllowOther = true; break;
        case "--default-permissions": mountOptions.DefaultPermissions = true; break;
        case "--passthrough": mountOptions.Passthrough = loopbackOptions.Passthrough = true; break;
        case "--kernel-locks": mountOptions.PosixLocks = false; break;
        case "--negative-timeout" when i + 1 < args.Length:
            mountOptions.NegativeEntryTimeout = TimeSpan.FromSeconds(double.Parse(args[++i], CultureInfo.InvariantCulture));
            break;
        case "--readers" when i + 1 < args.Length:
            mountOptions.ReaderThreads = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--fusermount": mountOptions.UseFusermount = true; break;
        case "--debug": debug = true; break;
        case "-h" or "--help":
            Console.WriteLine(Usage);
            return 0;
        default:
            if (args[i].StartsWith("--", StringComparison.Ordinal))
            {
                Console.Error.WriteLine($"litefs-loopback: unknown option {args[i]}\n{Usage}");
                return 2;
            }
            positional.Add(args[i]);
            break;
    }
}
if (positional.Count != 2)
{
    Console.Error.WriteLine(Usage);
    return 2;
}

using var loggerFactory = LoggerFactory.Create(builder => builder
    .AddSimpleConsole(o => o.SingleLine = true)
    // Logs go to stderr: stdout carries only the "mounted" line.
    .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace)
    .SetMinimumLevel(debug ? LogLevel.Debug : LogLevel.Warning));
mountOptions.LoggerFactory = loggerFactory;
mountOptions.Debug = debug;

try
{
    using var fileSystem = new LoopbackFileSystem(positional[0], loopbackOptions);
    using var mount = FuseMount.Mount(positional[1], fileSystem.Root, mountOptions);
    Console.WriteLine($"mounted {mount.MountPoint}");
    Console.Out.Flush();
    // UnmountOnSignals: SIGINT/SIGTERM unmount, which ends the connection and completes this.
    mount.Completion.Wait();
    return 0;
}
catch (FuseMountException exception)
{
    Console.Error.WriteLine($"litefs-loopback: {exception.Message}");
    return 1;
}
catch (DirectoryNotFoundException exception)
{
    Console.Error.WriteLine($"litefs-loopback: {exception.Message}");
    return 1;
}
