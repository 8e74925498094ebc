using Microsoft.Extensions.Logging;

namespace LiteFs.Cli;

/// <summary>
/// A small logger writing one line per message to standard error: the level, then the message.
/// Enough for a node's log; no dependency on the logging host.
/// </summary>
internal sealed class ConsoleLog(TextWriter output, bool debug, bool timestamps = false) : ILogger
{
    private readonly object _sync = new();

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= (debug ? LogLevel.Debug : LogLevel.Information);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }
        var level = logLevel switch
        {
            LogLevel.Trace or LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARN",
            _ => "ERROR",
        };
        var line = timestamps
            ? $"{DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {level} {formatter(state, exception)}"
            : $"level={level} {formatter(state, exception)}";
        lock (_sync)
        {
            output.WriteLine(exception is null ? line : $"{line}: {exception.Message}");
        }
    }
}
