namespace LiteFs.Cli.Tests;

public class CliTests
{
    [Fact]
    public void Run_NoArguments_ExitsTwo() => Assert.Equal(2, CommandLine.Run([], TextWriter.Null, TextWriter.Null));
}
