using LiteFs.Cli.Config;

namespace LiteFs.Cli.Tests.Config;

public class EnvExpanderTests
{
    private static readonly Dictionary<string, string> Env = new(StringComparer.Ordinal)
    {
        ["FOO"] = "foo",
        ["FOO_BAR"] = "foobar",
        ["FLY_REGION"] = "ord",
        ["PRIMARY_REGION"] = "ord",
        ["OTHER_REGION"] = "ams",
        ["EMPTY"] = "",
        ["SPACED"] = "a b",
        ["A = x"] = "odd name",
    };

    private static string Expand(string text) => EnvExpander.Expand(text, name => Env.GetValueOrDefault(name));

    // config-and-cli.md §2, first table.
    [Theory]
    [InlineData("$FOO", "foo")]
    [InlineData("$FOO/bar", "foo/bar")]
    [InlineData("$FOO_BAR-x", "foobar-x")]
    [InlineData("x$FOO.y", "xfoo.y")]
    [InlineData("$UNSET", "")]
    [InlineData("[$UNSET]", "[]")]
    [InlineData("$FOO1", "")]
    [InlineData("${FOO}", "foo")]
    [InlineData("${FOO}_BAR", "foo_BAR")]
    [InlineData("${ FOO }", "foo")]
    [InlineData("${\tFOO\n}", "foo")]
    [InlineData("${UNSET}", "")]
    [InlineData("$$", "")]
    [InlineData("a$$b", "ab")]
    [InlineData("$$FOO", "FOO")]
    [InlineData("$*", "")]
    [InlineData("$#", "")]
    [InlineData("$@", "")]
    [InlineData("$!", "")]
    [InlineData("$?", "")]
    [InlineData("$-", "")]
    [InlineData("$1", "")]
    [InlineData("$12", "2")]
    [InlineData("${*}", "")]
    [InlineData("${}", "")]
    [InlineData("a${}b", "ab")]
    [InlineData("${", "")]
    [InlineData("a${FOO", "aFOO")]
    [InlineData("a${FOO\nb: c", "aFOO\nb: c")]
    [InlineData("$", "$")]
    [InlineData("cost: 5$", "cost: 5$")]
    [InlineData("a $ b", "a $ b")]
    [InlineData("a$/b", "a$/b")]
    [InlineData("$.", "$.")]
    [InlineData("$%FOO", "$%FOO")]
    [InlineData("$é", "$é")]
    [InlineData("no dollars here", "no dollars here")]
    [InlineData("# comment $FOO", "# comment foo")]
    public void Expand_ShellForms(string text, string expected)
    {
        Assert.Equal(expected, Expand(text));
    }

    [Fact]
    public void Expand_SpecialNames_AreLookedUp()
    {
        var env = new Dictionary<string, string> { ["$"] = "pid", ["1"] = "first", ["*"] = "all" };
        Assert.Equal("pid first all all", EnvExpander.Expand("$$ $1 $* ${*}", name => env.GetValueOrDefault(name)));
    }

    // config-and-cli.md §2, second table.
    [Theory]
    [InlineData("${FLY_REGION == 'ord'}", "true")]
    [InlineData("${FLY_REGION == 'ams'}", "false")]
    [InlineData("${FLY_REGION != 'ord'}", "false")]
    [InlineData("${FLY_REGION != 'ams'}", "true")]
    [InlineData("${FLY_REGION == \"ord\"}", "true")]
    [InlineData("${FLY_REGION == \"ams\"}", "false")]
    [InlineData("${FLY_REGION != \"ord\"}", "false")]
    [InlineData("${FLY_REGION != \"ams\"}", "true")]
    [InlineData("${FLY_REGION=='ord'}", "true")]
    [InlineData("${  FLY_REGION  ==  \"ord\"  }", "true")]
    [InlineData("${SPACED == 'a b'}", "true")]
    [InlineData("${SPACED == \"a  b\"}", "false")]
    [InlineData("${UNSET == ''}", "true")]
    [InlineData("${EMPTY == \"\"}", "true")]
    [InlineData("${UNSET != ''}", "false")]
    [InlineData("${FLY_REGION == 'or'd'}", "false")]
    [InlineData("${FLY_REGION == PRIMARY_REGION}", "true")]
    [InlineData("${FLY_REGION != PRIMARY_REGION}", "false")]
    [InlineData("${FLY_REGION == OTHER_REGION}", "false")]
    [InlineData("${FLY_REGION != OTHER_REGION}", "true")]
    [InlineData("${UNSET == ALSO_UNSET}", "true")]
    [InlineData("${FLY_REGION==PRIMARY_REGION}", "true")]
    [InlineData("${FLY_REGION == ord}", "false")]
    [InlineData("${FLY_REGION == \"ord'}", "")]
    [InlineData("${FLY_REGION = 'ord'}", "")]
    [InlineData("${FLY-REGION == 'ord'}", "")]
    [InlineData("${FLY_REGION === 'ord'}", "")]
    [InlineData("${A = x}", "odd name")]
    [InlineData("${ A = x }", "odd name")]
    public void Expand_Comparisons(string text, string expected)
    {
        Assert.Equal(expected, Expand(text));
    }

    [Fact]
    public void Expand_SpecExample()
    {
        Assert.Equal("candidate: true\n", Expand("candidate: ${FLY_REGION == \"ord\"}\n"));
        Assert.Equal("lease:\n  candidate: false\n  hostname: foo\n", Expand("lease:\n  candidate: ${FLY_REGION == OTHER_REGION}\n  hostname: ${FOO}\n"));
    }

    [Fact]
    public void Expand_NoDollar_ReturnsTheSameText()
    {
        const string Text = "lease:\n  type: static\n";
        Assert.Same(Text, Expand(Text));
    }
}
