using System.Net;

namespace LiteFs.Http.Tests;

/// <summary>HttpClient set up for one HTTP version exactly (h2c with prior knowledge for 2.0).</summary>
internal static class H2c
{
    public static HttpClient NewClient(Version? version = null) => new(new SocketsHttpHandler { UseProxy = false })
    {
        DefaultRequestVersion = version ?? HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        Timeout = TimeSpan.FromSeconds(30),
    };

    public static HttpRequestMessage Request(HttpMethod method, string url, Version? version = null) => new(method, url)
    {
        Version = version ?? HttpVersion.Version20,
        VersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };
}
