namespace LiteFs.Proxy.Tests;

public class PathPatternTests
{
    [Theory]
    [InlineData("/debug/*", "/debug/", true)]
    [InlineData("/debug/*", "/debug/a/b", true)]
    [InlineData("/debug/*", "/debug", false)]
    [InlineData("/debug/*", "/x/debug/a", false)]
    [InlineData("*.png", "/img/x.png", true)]
    [InlineData("*.png", "/img/x.png.txt", false)]
    [InlineData("/api", "/api", true)]
    [InlineData("/api", "/api/", false)]
    [InlineData("/api", "/apix", false)]
    [InlineData("*", "", true)]
    [InlineData("*", "/anything/at/all", true)]
    [InlineData("/a*b*c", "/abc", true)]
    [InlineData("/a*b*c", "/a-b-b-c", true)]
    [InlineData("/a*b*c", "/a-c-b", false)]
    [InlineData("/a**", "/a", true)]
    [InlineData("/x*x", "/x", false)]
    [InlineData("/x*x", "/xx", true)]
    [InlineData("/v1.0/(a)+[b]$", "/v1.0/(a)+[b]$", true)]
    [InlineData("/v1.0/*", "/v1x0/a", false)]
    [InlineData("/^start", "/^start", true)]
    [InlineData("", "", true)]
    [InlineData("", "/", false)]
    public void IsMatch_WholePathGlob_AsUpstreamRegex(string pattern, string path, bool expected)
    {
        Assert.True(PathPattern.TryParse(pattern, out var parsed));
        Assert.Equal(expected, parsed!.IsMatch(path));
    }

    [Fact]
    public void TryParse_Null_Fails()
    {
        Assert.False(PathPattern.TryParse(null, out _));
    }
}
