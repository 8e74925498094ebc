using LiteFs.Cli.Exec;

namespace LiteFs.Cli.Tests.Exec;

public class ShellWordsTests
{
    [Theory]
    [InlineData("myapp -addr :8081", new[] { "myapp", "-addr", ":8081" })]
    [InlineData("  a   b  ", new[] { "a", "b" })]
    [InlineData("sh -c 'echo $HOME; exit 3'", new[] { "sh", "-c", "echo $HOME; exit 3" })]
    [InlineData("say \"hello \\\"world\\\"\"", new[] { "say", "hello \"world\"" })]
    [InlineData("a\\ b c", new[] { "a b", "c" })]
    [InlineData("empty '' \"\"", new[] { "empty", "", "" })]
    [InlineData("'it'\\''s'", new[] { "it's" })]
    public void Split_FollowsShellQuoting(string line, string[] words) => Assert.Equal(words, ShellWords.Split(line));

    [Theory]
    [InlineData("'unterminated")]
    [InlineData("\"unterminated")]
    [InlineData("trailing\\")]
    public void Split_Malformed_IsFormatError(string line) => Assert.Throws<FormatException>(() => ShellWords.Split(line));

    [Theory]
    [InlineData((object)new[] { "sh", "-c", "echo hi; exit 3" })]
    [InlineData((object)new[] { "it's", "a \"quote\"", "", "$HOME", "back\\slash" })]
    public void Join_ThenSplit_GivesSameWords(string[] words) => Assert.Equal(words, ShellWords.Split(ShellWords.Join(words)));
}
