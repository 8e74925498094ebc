using Microsoft.Extensions.Logging;

namespace LiteFs.TestKit;

/// <summary>
/// A logger factory that keeps every message written through it (all categories, all levels),
/// for tests that check what a component told the operator.
/// </summary>
public sealed class LogRecorder : ILoggerFactory
{
    private readonly List<LogEntry> _entries = [];

    /// <summary>The messages so far, in order.</summary>
    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    /// <summary>Whether some message contains <paramref name="text"/>.</summary>
    public bool Contains(string text) => Entries.Any(e => e.Message.Contains(text, StringComparison.Ordinal));

    /// <summary>Fails, listing every message, unless some message contains <paramref name="text"/>.</summary>
    public void AssertLogged(string text)
    {
        if (!Contains(text))
        {
            throw new Xunit.Sdk.XunitException($"no log message contains \"{text}\"; logged:\n{string.Join('\n', Entries)}");
        }
    }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private sealed class Logger(LogRecorder owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (owner._entries)
            {
                owner._entries.Add(new LogEntry(category, logLevel, eventId.Id, formatter(state, exception)));
            }
        }
    }
}

/// <summary>One message a <see cref="LogRecorder"/> kept.</summary>
public sealed record LogEntry(string Category, LogLevel Level, int EventId, string Message)
{
    /// <inheritdoc />
    public override string ToString() => $"{Category}[{EventId}] {Level}: {Message}";
}
