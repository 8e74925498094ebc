namespace LiteFs.Proxy.Tests;

public class RequestRouterTests
{
    private static readonly RequestRouter Router = new(new ProxyOptions
    {
        Address = ":0",
        Target = "localhost:1",
        Db = "app.db",
        Passthrough = ["/static/*", "*.png", "/litefs/health"],
        AlwaysForward = ["/session/*"],
        ReadUpgrades = ["/live/*"],
    });

    private static readonly RequestRouter Plain = new(new ProxyOptions { Address = ":0", Target = "localhost:1", Db = "app.db" });

    [Theory]
    [InlineData("GET", "/", Route.Read)]
    [InlineData("HEAD", "/", Route.Read)]
    [InlineData("POST", "/", Route.Write)]
    [InlineData("PUT", "/x", Route.Write)]
    [InlineData("PATCH", "/x", Route.Write)]
    [InlineData("DELETE", "/x", Route.Write)]
    [InlineData("OPTIONS", "/x", Route.Write)]
    [InlineData("CONNECT", "/x", Route.Write)]
    [InlineData("get", "/", Route.Write)]
    [InlineData("GET", "/litefs/health", Route.Health)]
    [InlineData("HEAD", "/litefs/health", Route.Read)]
    [InlineData("POST", "/litefs/health", Route.Write)]
    [InlineData("GET", "/litefs/health/", Route.Read)]
    public void Classify_MethodsAndHealth_AsUpstream(string method, string path, Route expected)
    {
        Assert.Equal(expected, Plain.Classify(method, path));
    }

    [Theory]
    [InlineData("POST", "/static/app.js", Route.Passthrough)]
    [InlineData("GET", "/img/a.png", Route.Passthrough)]
    [InlineData("GET", "/litefs/health", Route.Passthrough)] // a passthrough pattern wins over the health check
    [InlineData("GET", "/session/new", Route.Write)]
    [InlineData("HEAD", "/session/new", Route.Write)]
    [InlineData("POST", "/session/new", Route.Write)]
    [InlineData("GET", "/sessions", Route.Read)]
    public void Classify_Patterns_PassthroughThenAlwaysForward(string method, string path, Route expected)
    {
        Assert.Equal(expected, Router.Classify(method, path));
    }

    [Theory]
    [InlineData("/ws", Route.Write)]
    [InlineData("/live/feed", Route.Read)]
    [InlineData("/static/socket", Route.Passthrough)]
    public void Classify_Upgrade_WriteUnlessReadUpgradeOrPassthrough(string path, Route expected)
    {
        Assert.Equal(expected, Router.Classify("GET", path, isUpgrade: true));
    }
}
