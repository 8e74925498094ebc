using System.Text.Json;

namespace LiteFs.Proxy;

/// <summary>What a replica knows of the primary's proxy.</summary>
/// <param name="Url">The primary proxy's URL; null when the primary does not say (an upstream node) or could not be asked.</param>
/// <param name="Error">Why the primary could not be asked; null when it answered.</param>
internal readonly record struct PrimaryProxy(string? Url, string? Error);

/// <summary>
/// Learns the primary's proxy URL from the <c>proxyURL</c> field of the primary's <c>/info</c>,
/// keyed by the primary's API URL, which the caller reads from the node's lease on every request:
/// when the primary moves, the next request asks the new one. An answer is kept for
/// <see cref="Lifetime"/>, a failure for <see cref="RetryDelay"/>; one lookup at a time per primary.
/// </summary>
internal sealed class PrimaryProxyLocator(HttpMessageInvoker http, TimeProvider time)
{
    /// <summary>How long an answer is trusted (a restarted primary may have moved its proxy).</summary>
    internal static readonly TimeSpan Lifetime = TimeSpan.FromSeconds(30);

    /// <summary>How soon a failed lookup is tried again.</summary>
    internal static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan LookupTimeout = TimeSpan.FromSeconds(5);

    private readonly Lock _lock = new();
    private Entry? _entry; // guarded by _lock

    /// <summary>The proxy URL of the primary whose API is at <paramref name="primaryApiUrl"/>.</summary>
    public Task<PrimaryProxy> LocateAsync(string primaryApiUrl)
    {
        var now = time.GetTimestamp();
        lock (_lock)
        {
            if (_entry is { } e && e.ApiUrl == primaryApiUrl && !IsStale(e, now))
            {
                return e.Lookup;
            }
            var lookup = LookupAsync(primaryApiUrl);
            _entry = new Entry(primaryApiUrl, lookup, now);
            return lookup;
        }
    }

    /// <summary>Forgets the answer for <paramref name="primaryApiUrl"/> (its proxy could not be reached).</summary>
    public void Invalidate(string primaryApiUrl)
    {
        lock (_lock)
        {
            if (_entry?.ApiUrl == primaryApiUrl)
            {
                _entry = null;
            }
        }
    }

    private bool IsStale(Entry entry, long now)
    {
        if (!entry.Lookup.IsCompleted)
        {
            return false;
        }
        var age = time.GetElapsedTime(entry.Started, now);
        return entry.Lookup.Result.Error is not null ? age >= RetryDelay : age >= Lifetime;
    }

    private async Task<PrimaryProxy> LookupAsync(string primaryApiUrl)
    {
        try
        {
            using var timeout = new CancellationTokenSource(LookupTimeout);
            using var request = new HttpRequestMessage(HttpMethod.Get, primaryApiUrl.TrimEnd('/') + "/info");
            using var response = await http.SendAsync(request, timeout.Token).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return new PrimaryProxy(null, $"primary {primaryApiUrl} answered /info with {(int)response.StatusCode}");
            }
            var body = await response.Content.ReadAsByteArrayAsync(timeout.Token).ConfigureAwait(false);
            using var json = JsonDocument.Parse(body);
            return json.RootElement.ValueKind == JsonValueKind.Object
                && json.RootElement.TryGetProperty("proxyURL", out var url) && url.ValueKind == JsonValueKind.String
                && Uri.TryCreate(url.GetString(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"
                ? new PrimaryProxy(uri.GetLeftPart(UriPartial.Authority), null)
                : new PrimaryProxy(null, null);
        }
        catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException or JsonException or IOException)
        {
            return new PrimaryProxy(null, $"cannot ask primary {primaryApiUrl} for its proxy: {ex.Message}");
        }
    }

    private sealed record Entry(string ApiUrl, Task<PrimaryProxy> Lookup, long Started);
}
