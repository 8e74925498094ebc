using System.Text;
using LiteFs.Core.Leases;

namespace LiteFs.Core.Tests.Leases;

/// <summary>The primary-info value written into a lease key, and the static lease as a leaser.</summary>
public class LeaseValueTests
{
    [Fact]
    public void PrimaryInfoJson_Encode_IsUpstreamsTwoFieldsInOrder()
    {
        var json = Encoding.UTF8.GetString(PrimaryInfoJson.Encode(new PrimaryInfo("node-a", "http://10.0.0.1:20202")));
        Assert.Equal("{\"hostname\":\"node-a\",\"advertise-url\":\"http://10.0.0.1:20202\"}", json);
    }

    /// <summary>
    /// Values as an upstream node writes them (Go's <c>json.Marshal</c> of its primary info: HTML
    /// characters, control characters and U+2028/U+2029 escaped in lower-case hex, other text as
    /// UTF-8): ours writes the same bytes, and reads upstream's bytes back to the same values.
    /// </summary>
    [Theory]
    [InlineData("node-a", "http://10.0.0.1:20202", "{\"hostname\":\"node-a\",\"advertise-url\":\"http://10.0.0.1:20202\"}")]
    [InlineData("", "", "{\"hostname\":\"\",\"advertise-url\":\"\"}")]
    [InlineData("fra-01.internal", "https://[fdaa:0:1::3]:20202/x?a=1&b=<2>",
        "{\"hostname\":\"fra-01.internal\",\"advertise-url\":\"https://[fdaa:0:1::3]:20202/x?a=1\\u0026b=\\u003c2\\u003e\"}")]
    [InlineData("nœud \"α\"\\+'", "http://h:1/\t\n\r\u0001\u2028\u2029",
        "{\"hostname\":\"nœud \\\"α\\\"\\\\+'\",\"advertise-url\":\"http://h:1/\\t\\n\\r\\u0001\\u2028\\u2029\"}")]
    public void PrimaryInfoJson_GoldenUpstreamValues_WrittenAndReadAlike(string hostname, string url, string upstream)
    {
        var info = new PrimaryInfo(hostname, url);
        Assert.Equal(upstream, Encoding.UTF8.GetString(PrimaryInfoJson.Encode(info)));
        Assert.Equal(info, PrimaryInfoJson.Decode(Encoding.UTF8.GetBytes(upstream)));
    }

    [Theory]
    [InlineData("{\"hostname\":\"h\",\"advertise-url\":\"http://h:1\"}", "h", "http://h:1")]
    [InlineData("{\"advertise-url\":\"http://h:1\",\"hostname\":\"h\",\"extra\":1}", "h", "http://h:1")]
    [InlineData("{\"hostname\":\"h\"}", "h", "")]
    public void PrimaryInfoJson_Decode_ReadsFieldsInAnyOrder(string json, string hostname, string url)
    {
        Assert.Equal(new PrimaryInfo(hostname, url), PrimaryInfoJson.Decode(Encoding.UTF8.GetBytes(json)));
    }

    [Fact]
    public void PrimaryInfoJson_Decode_EmptyIsNobody()
    {
        Assert.Null(PrimaryInfoJson.Decode([]));
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("[1,2]")]
    public void PrimaryInfoJson_Decode_Garbage_ThrowsLeaseException(string value)
    {
        var ex = Assert.Throws<LeaseException>(() => PrimaryInfoJson.Decode(Encoding.UTF8.GetBytes(value)));
        Assert.StartsWith("invalid primary info in the lease key", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void PrimaryInfo_SameNode_ComparesAdvertiseUrls()
    {
        var a = new PrimaryInfo("a", "http://a:1");
        Assert.True(a.SameNode(new PrimaryInfo("renamed", "http://a:1")));
        Assert.False(a.SameNode(new PrimaryInfo("a", "http://a:2")));
        Assert.False(a.SameNode(null));
    }

    [Fact]
    public async Task StaticLease_Candidate_AcquiresAPermanentLease()
    {
        ILeaser lease = new StaticLease(true, "p", "http://p:1");
        var grant = await lease.AcquireAsync(CancellationToken.None);
        Assert.True(grant.IsPermanent);
        Assert.Equal(new PrimaryInfo("p", "http://p:1"), await lease.PrimaryInfoAsync(CancellationToken.None));
        Assert.Null(await lease.ClusterIdAsync(CancellationToken.None));
        Assert.False(lease.SupportsHandoff);
        var ex = await Assert.ThrowsAsync<NotSupportedException>(() => lease.AcquireExistingAsync("x", CancellationToken.None));
        Assert.Equal("static lease handoff not supported", ex.Message);
    }

    [Fact]
    public async Task StaticLease_Replica_RefusedWithTheConfiguredPrimary()
    {
        ILeaser lease = new StaticLease(false, "p", "http://p:1");
        var ex = await Assert.ThrowsAsync<LeaseHeldException>(() => lease.AcquireAsync(CancellationToken.None));
        Assert.Equal(new PrimaryInfo("p", "http://p:1"), ex.Holder);
        Assert.StartsWith("lease already held by p (http://p:1)", ex.Message, StringComparison.Ordinal);
    }
}
