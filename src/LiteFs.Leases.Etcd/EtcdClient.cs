using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using LiteFs.Core.Leases;
using Microsoft.Extensions.Logging;

namespace LiteFs.Leases.Etcd;

/// <summary>An error etcd answered, with its gRPC code (5 not found, 16 unauthenticated, ...).</summary>
internal sealed class EtcdErrorException(string endpoint, int code, string error)
    : LeaseException($"etcd at {endpoint}: {error} (code {code})")
{
    public const int NotFound = 5;
    public const int Unauthenticated = 16;

    public int Code { get; } = code;

    public string Reason { get; } = error;
}

/// <summary>
/// Calls etcd's v3 JSON gateway: one POST per call with a JSON body, on the first endpoint that
/// answers (the one that answered last is tried first; a connection failure moves on to the
/// next), each call bounded by the request timeout, with the auth token when a user is set.
/// Safe for concurrent calls.
/// </summary>
internal sealed class EtcdClient : IDisposable
{
    private readonly EtcdLeaserOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly HttpClient _http;
    private readonly Uri[] _endpoints;
    private readonly SemaphoreSlim _authLock = new(1, 1);

    // Written with Interlocked/volatile by whichever call learns something; read by every call.
    private int _current;
    private volatile string? _token;

    public EtcdClient(EtcdLeaserOptions options, TimeProvider time, ILogger logger)
    {
        _options = options;
        _time = time;
        _logger = logger;
        _endpoints = [.. options.Endpoints.Select(ParseEndpoint)];
        if (_endpoints.Length == 0)
        {
            throw new ArgumentException("at least one etcd endpoint is required", nameof(options));
        }
        var handler = new SocketsHttpHandler
        {
            // Half the request timeout, so that a second endpoint can still answer in time when the
            // first one drops connection attempts silently.
            ConnectTimeout = options.RequestTimeout / 2,
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        };
        if (!string.IsNullOrEmpty(options.CaFile))
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPemFile(options.CaFile);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or System.Security.Cryptography.CryptographicException)
            {
                throw new LeaseException($"cannot read lease.etcd.ca-file {options.CaFile}: {ex.Message}", ex);
            }
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedByCa(certificate, errors, roots);
        }
        // Timeouts are the caller's, on its clock; the client's own would only get in the way of a watch.
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The endpoints as configured, for messages.</summary>
    public string EndpointList => string.Join(", ", _endpoints.Select(Show));

    /// <summary>POSTs <paramref name="request"/> to <paramref name="path"/> and reads the JSON answer.</summary>
    public async Task<TResponse> CallAsync<TRequest, TResponse>(string path, TRequest request, JsonTypeInfo<TRequest> requestType,
        JsonTypeInfo<TResponse> responseType, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var (response, endpoint) = await SendAsync(path, request, requestType, streaming: false, timeout, bounded.Token).ConfigureAwait(false);
        using (response)
        {
            try
            {
                var body = await response.Content.ReadAsByteArrayAsync(bounded.Token).ConfigureAwait(false);
                return JsonSerializer.Deserialize(body, responseType)
                    ?? throw new LeaseException($"etcd at {Show(endpoint)}: empty answer to {path}");
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw TimedOut(endpoint, path);
            }
            catch (JsonException ex)
            {
                throw new LeaseException($"etcd at {Show(endpoint)}: unexpected answer to {path}: {ex.Message}", ex);
            }
            catch (HttpRequestException ex)
            {
                throw new LeaseException($"etcd at {Show(endpoint)}: {path} failed: {ex.Message}", ex);
            }
        }
    }

    /// <summary>
    /// POSTs <paramref name="request"/> and returns the response once its headers arrived, for a
    /// streamed answer (the watch); only getting the headers is bounded by the request timeout.
    /// </summary>
    public async Task<(HttpResponseMessage Response, Uri Endpoint)> OpenStreamAsync<TRequest>(string path, TRequest request, JsonTypeInfo<TRequest> requestType,
        CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(_options.RequestTimeout, _time);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        var (response, endpoint) = await SendAsync(path, request, requestType, streaming: true, timeout, bounded.Token).ConfigureAwait(false);
        return (response, endpoint);
    }

    /// <summary>The auth token is no longer accepted (a watch was cancelled for it): get a new one at the next call.</summary>
    public void ForgetToken(string rejected) => Interlocked.CompareExchange(ref _token, null, rejected);

    /// <summary>The token in use, if any.</summary>
    public string? Token => _token;

    private async Task<(HttpResponseMessage, Uri)> SendAsync<TRequest>(string path, TRequest request, JsonTypeInfo<TRequest> requestType,
        bool streaming, CancellationTokenSource timeout, CancellationToken cancellationToken)
    {
        var body = JsonSerializer.SerializeToUtf8Bytes(request, requestType);
        var first = Volatile.Read(ref _current);
        List<string>? failures = null;
        for (var i = 0; i < _endpoints.Length; i++)
        {
            var index = (first + i) % _endpoints.Length;
            var endpoint = _endpoints[index];
            try
            {
                var response = await SendToAsync(endpoint, path, body, streaming, retryAuth: true, cancellationToken).ConfigureAwait(false);
                if (index != first)
                {
                    Interlocked.Exchange(ref _current, index);
                    _logger.EndpointChanged(Show(endpoint));
                }
                return (response, endpoint);
            }
            catch (HttpRequestException ex) when (IsConnectFailure(ex))
            {
                // Nothing reached this endpoint: the request is safe to send to the next.
                (failures ??= []).Add($"{Show(endpoint)}: {ex.Message}");
                _logger.EndpointFailed(Show(endpoint), ex.Message);
            }
            catch (OperationCanceledException ex) when (!timeout.IsCancellationRequested && ex.InnerException is TimeoutException)
            {
                // The handler's connect timeout: nothing was sent.
                (failures ??= []).Add($"{Show(endpoint)}: no connection within {_options.RequestTimeout.TotalSeconds / 2:0.###}s");
                _logger.EndpointFailed(Show(endpoint), "connection timed out");
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                // Unanswered: the next call starts with the next endpoint.
                Interlocked.CompareExchange(ref _current, (index + 1) % _endpoints.Length, index);
                throw TimedOut(endpoint, path);
            }
            catch (HttpRequestException ex)
            {
                throw new LeaseException($"etcd at {Show(endpoint)}: {path} failed: {ex.Message}", ex);
            }
        }
        throw new LeaseException($"cannot reach etcd at {EndpointList}: {string.Join("; ", failures ?? [])}");
    }

    private async Task<HttpResponseMessage> SendToAsync(Uri endpoint, string path, byte[] body, bool streaming, bool retryAuth, CancellationToken cancellationToken)
    {
        var token = await TokenAsync(endpoint, cancellationToken).ConfigureAwait(false);
        using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, path))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        if (token is not null)
        {
            message.Headers.TryAddWithoutValidation("Authorization", token);
        }
        var response = await _http.SendAsync(message, streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, cancellationToken)
            .ConfigureAwait(false);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            var error = await ReadErrorAsync(endpoint, response, cancellationToken).ConfigureAwait(false);
            if (error.Code == EtcdErrorException.Unauthenticated && token is not null && retryAuth)
            {
                // Tokens expire (etcd's simple tokens after 5 minutes idle): authenticate again, once.
                ForgetToken(token);
                _logger.Reauthenticating(Show(endpoint));
                return await SendToAsync(endpoint, path, body, streaming, retryAuth: false, cancellationToken).ConfigureAwait(false);
            }
            throw error;
        }
    }

    private async Task<string?> TokenAsync(Uri endpoint, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(_options.Username))
        {
            return null;
        }
        if (_token is { } token)
        {
            return token;
        }
        await _authLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_token is { } again)
            {
                return again;
            }
            var body = JsonSerializer.SerializeToUtf8Bytes(new AuthenticateRequest { Name = _options.Username, Password = _options.Password ?? "" },
                EtcdJsonContext.Default.AuthenticateRequest);
            using var message = new HttpRequestMessage(HttpMethod.Post, new Uri(endpoint, "v3/auth/authenticate"))
            {
                Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
            };
            using var response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var error = await ReadErrorAsync(endpoint, response, cancellationToken).ConfigureAwait(false);
                throw new LeaseException($"cannot authenticate to etcd at {Show(endpoint)} as \"{_options.Username}\": {error.Reason}; check lease.etcd.username and lease.etcd.password", error);
            }
            var answer = await response.Content.ReadFromJsonAsync(EtcdJsonContext.Default.AuthenticateResponse, cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrEmpty(answer?.Token))
            {
                throw new LeaseException($"etcd at {Show(endpoint)} answered the authentication without a token: is auth enabled there?");
            }
            _token = answer.Token;
            return answer.Token;
        }
        finally
        {
            _authLock.Release();
        }
    }

    private static async Task<EtcdErrorException> ReadErrorAsync(Uri endpoint, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (JsonSerializer.Deserialize(text, EtcdJsonContext.Default.ErrorResponse) is { Error: { Length: > 0 } error } e)
            {
                return new EtcdErrorException(Show(endpoint), e.Code, error);
            }
        }
        catch (JsonException)
        {
        }
        var shown = text.Length > 200 ? text[..200] + "..." : text;
        return new EtcdErrorException(Show(endpoint), -1, $"HTTP {(int)response.StatusCode}: {shown.Trim()} (is this an etcd v3 client URL?)");
    }

    /// <summary>An endpoint as configured (without the slash added for resolving paths).</summary>
    public static string Show(Uri endpoint) => endpoint.ToString().TrimEnd('/');

    private LeaseException TimedOut(Uri endpoint, string path) =>
        new($"etcd at {Show(endpoint)} did not answer {path} within {_options.RequestTimeout.TotalSeconds:0.###}s");

    private static bool IsConnectFailure(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError;

    private static bool TrustedByCa(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2Collection roots)
    {
        if (certificate is null || (errors & (SslPolicyErrors.RemoteCertificateNotAvailable | SslPolicyErrors.RemoteCertificateNameMismatch)) != 0)
        {
            return false;
        }
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    private static Uri ParseEndpoint(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException($"invalid etcd endpoint \"{text}\": want a URL such as http://127.0.0.1:2379");
        }
        // A base ending in '/' so that relative paths ("v3/kv/range") are resolved under it.
        return new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }

    public void Dispose()
    {
        _http.Dispose();
        _authLock.Dispose();
    }
}

/// <summary>The etcd lease's log messages (category <c>LiteFs.Leases.Etcd.EtcdLeaser</c>).</summary>
internal static partial class EtcdLog
{
    [LoggerMessage(800, LogLevel.Warning, "cannot connect to etcd at {Endpoint}: {Error}; trying the next endpoint")]
    public static partial void EndpointFailed(this ILogger logger, string endpoint, string error);

    [LoggerMessage(801, LogLevel.Information, "using etcd at {Endpoint}")]
    public static partial void EndpointChanged(this ILogger logger, string endpoint);

    [LoggerMessage(802, LogLevel.Debug, "etcd at {Endpoint} no longer accepts the auth token: authenticating again")]
    public static partial void Reauthenticating(this ILogger logger, string endpoint);

    [LoggerMessage(803, LogLevel.Debug, "etcd watch of {Key} ended ({Reason}); reading the key again")]
    public static partial void WatchRestarting(this ILogger logger, string key, string reason);
}
