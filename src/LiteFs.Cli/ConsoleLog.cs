using Microsoft.Extensions.Logging;

namespace LiteFs.Cli;

/// <summary>
/// A logger writing one line per message: the level, then the message (the category is not
/// written). With <c>timestamps</c>, the UTC time instead of <c>level=</c>.
/// </summary>
internal sealed class ConsoleLog(TextWriter output, bool debug, bool timestamps, Lock sync) : ILogger
{
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
        lock (sync)
        {
            output.WriteLine(exception is null ? line : $"{line}: {exception.Message}");
        }
    }
}
