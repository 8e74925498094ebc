using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LiteFs.TestKit;

/// <summary>A logger factory whose every logger appends its formatted lines, with their event ids, to one list.</summary>
public sealed class ListLogger : ILogger, ILoggerFactory
{
    /// <summary>Every line logged so far, in order.</summary>
    public ConcurrentQueue<(int EventId, LogLevel Level, string Message)> Lines { get; } = new();

    /// <summary>The messages logged with <paramref name="eventId"/>.</summary>
    public IReadOnlyList<string> With(int eventId) => [.. Lines.Where(l => l.EventId == eventId).Select(l => l.Message)];

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => this;

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

    /// <inheritdoc />
    public void Dispose()
    {
    }

    /// <inheritdoc />
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <inheritdoc />
    public bool IsEnabled(LogLevel logLevel) => true;

    /// <inheritdoc />
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Lines.Enqueue((eventId.Id, logLevel, formatter(state, exception)));
}
