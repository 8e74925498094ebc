namespace LiteFs.Cli.Config;

/// <summary>
/// The configuration cannot be located, read, parsed or validated. The message is complete and
/// meant for the operator as it is; <c>litefs mount</c> prints it as <c>ERROR: &lt;message&gt;</c> and
/// exits with status 2.
/// </summary>
internal sealed class ConfigException(string message) : Exception(message);
