using System.Collections.Concurrent;
using LiteFs.TestKit;
using Microsoft.Extensions.Logging;

namespace LiteFs.Fuse.Tests;

/// <summary>The dispatcher: notifications, exception mapping, missing capabilities.</summary>
public sealed class DispatchTests : IDisposable
{
    private readonly TempDir _dir = new("litefs-fuse-memory");
    private readonly MemoryDirectory _root = new(1);
    private readonly MemoryFile _file = new(2, "AAAA");

    public DispatchTests()
    {
        _root.Children["f"] = _file;
    }

    public void Dispose() => _dir.Dispose();

    private FuseMount Mount(MountOptions? options = null)
    {
        options ??= new MountOptions();
        // Long timeouts: anything fresh after a change must come from invalidation.
        options.EntryTimeout = options.AttributeTimeout = TimeSpan.FromHours(1);
        return FuseMount.Mount(_dir.Path, _root, options);
    }

    [Fact]
    public void InvalidateInode_AfterChangeBehindTheKernel_ReadsNewContent()
    {
        using var mount = Mount();
        var path = Path.Combine(_dir.Path, "f");
        Assert.Equal("AAAA", File.ReadAllText(path));
        _file.Content = "BBBB";
        Assert.Equal("AAAA", File.ReadAllText(path)); // Served from the page cache.

        Assert.Equal(Errno.Ok, mount.InvalidateInode(_file));
        Assert.Equal("BBBB", File.ReadAllText(path));
    }

    [Fact]
    public void InvalidateEntry_AfterRemovalBehindTheKernel_NameDisappears()
    {
        using var mount = Mount();
        var path = Path.Combine(_dir.Path, "f");
        Assert.True(File.Exists(path));
        _root.Children.TryRemove("f", out _);
        Assert.True(File.Exists(path)); // The cached entry still answers.

        Assert.Equal(Errno.Ok, mount.InvalidateEntry(_root, "f"));
        Assert.False(File.Exists(path));
        // Names the kernel never saw are fine to invalidate.
        Assert.Equal(Errno.Ok, mount.InvalidateEntry(_root, "never-looked-up"));
    }

    [Fact]
    public void UnexpectedException_BecomesEio_AndTheOnlyReaderSurvives()
    {
        using var mount = Mount(new MountOptions { ReaderThreads = 1 });
        var path = Path.Combine(_dir.Path, "f");
        _file.ReadFailure = new InvalidOperationException("bug in file system code");

        Assert.Equal(5, Native.ReadErrno(path)); // EIO

        _file.ReadFailure = null;
        Assert.Equal("AAAA", File.ReadAllText(path));
    }

    [Fact]
    public void FuseException_AndMapper_ChooseTheErrno()
    {
        using var mount = Mount(new MountOptions
        {
            ExceptionMapper = e => e is TimeoutException ? Errno.EAGAIN : e is FuseException f ? f.Errno : Errno.EIO,
        });
        var path = Path.Combine(_dir.Path, "f");
        _file.ReadFailure = new FuseException(Errno.EROFS);
        Assert.Equal((int)Errno.EROFS, Native.ReadErrno(path));
        _file.ReadFailure = new TimeoutException();
        Assert.Equal((int)Errno.EAGAIN, Native.ReadErrno(path));
    }

    [Fact]
    public void MissingCapability_IsNotImplemented()
    {
        using var mount = Mount();
        // The root implements lookup only: no create, no mkdir.
        var error = Assert.Throws<IOException>(() => File.WriteAllText(Path.Combine(_dir.Path, "new"), "x"));
        Assert.Contains("not implemented", error.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("not implemented", Assert.Throws<IOException>(() => Directory.CreateDirectory(Path.Combine(_dir.Path, "d"))).Message,
            StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void DebugMode_LogsEveryRequestAndReply()
    {
        var logger = new ListLogger();
        using (var mount = Mount(new MountOptions { Debug = true, LoggerFactory = logger }))
        {
            Assert.Equal("AAAA", File.ReadAllText(Path.Combine(_dir.Path, "f")));
        }
        var lines = logger.Lines.ToArray();
        Assert.Contains(lines, line => line.StartsWith("<- Lookup unique=", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("<- Read unique=", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("-> unique=", StringComparison.Ordinal) && line.Contains(" Ok len=", StringComparison.Ordinal));
        Assert.Contains(lines, line => line.StartsWith("FUSE 7.", StringComparison.Ordinal));
    }

    /// <summary>One logger for every category, keeping each message's text.</summary>
    private sealed class ListLogger : ILogger, ILoggerFactory
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose()
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Enqueue(formatter(state, exception));
    }
}
