using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace LiteFs.Cli;

/// <summary>
/// The node's loggers: one <see cref="ConsoleLog"/> per category, all writing whole lines to one
/// output. Also the node's <see cref="ILoggerFactory"/>, so the composition root needs no logging
/// host (and no reflection, for Native AOT).
/// </summary>
internal sealed class ConsoleLoggerProvider(TextWriter output, bool debug, bool timestamps = false) : ILoggerProvider, ILoggerFactory
{
    private readonly ConcurrentDictionary<string, ConsoleLog> _loggers = new(StringComparer.Ordinal);

    /// <summary>Serializes lines from every category.</summary>
    private readonly Lock _sync = new();

    public ILogger CreateLogger(string categoryName) =>
        _loggers.GetOrAdd(categoryName, _ => new ConsoleLog(output, debug, timestamps, _sync));

    /// <summary>Not supported: the console is the node's only log.</summary>
    public void AddProvider(ILoggerProvider provider) =>
        throw new NotSupportedException("the node logs to standard error only");

    public void Dispose()
    {
    }
}
