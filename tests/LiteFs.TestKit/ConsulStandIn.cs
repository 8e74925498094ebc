using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace LiteFs.TestKit;

/// <summary>
/// A stand-in for a Consul agent, for tests on machines without one: an in-process HTTP server
/// (Kestrel on 127.0.0.1, a random port) that implements only the part of Consul's HTTP API the
/// Consul lease uses, with Consul's semantics for it. It is not Consul.
/// </summary>
/// <remarks>
/// <para>Sessions (<c>PUT /v1/session/create|renew/ID|destroy/ID</c>): a TTL between
/// <see cref="MinSessionTtl"/> and 24 h (Consul's rule), a lock-delay, behaviour <c>release</c>
/// (default) or <c>delete</c>, an optional node that must be registered
/// (<c>PUT /v1/catalog/register</c>). A session not renewed is invalidated exactly at its TTL
/// (a real agent may wait up to twice the TTL); invalidation (expiry or destroy) applies the
/// behaviour to every key the session holds and starts the lock-delay on each.</para>
/// <para>KV (<c>/v1/kv/KEY</c>): GET (a one-entry JSON list with base64 <c>Value</c>, or 404;
/// <c>?raw</c>; blocking with <c>?index=N&amp;wait=D</c>, <c>X-Consul-Index</c> on every answer),
/// PUT with <c>?acquire=S</c> (false while another session holds the key or during its
/// lock-delay), <c>?release=S</c>, <c>?cas=N</c> (0: only if absent), DELETE.</para>
/// <para>With <see cref="RequiredToken"/>, a request without that <c>X-Consul-Token</c> gets 403.</para>
/// </remarks>
public sealed class ConsulStandIn : IAsyncDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<string, KvEntry> _kv = new(StringComparer.Ordinal);
    private readonly Dictionary<string, ulong> _changedAt = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Session> _sessions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _lockDelays = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodes = new(StringComparer.Ordinal) { AgentNode };
    private readonly TimeProvider _time;
    private WebApplication? _app;
    private ITimer? _sweeper;
    private ulong _index = 1;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>The node name sessions get when they name none.</summary>
    public const string AgentNode = "consul-stand-in";

    private ConsulStandIn(TimeProvider time)
    {
        _time = time;
    }

    /// <summary>The base URL, e.g. <c>http://127.0.0.1:41234</c>.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The shortest session TTL accepted (Consul's <c>session_ttl_min</c>, 10 s by default).</summary>
    public TimeSpan MinSessionTtl { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>When set, every request must carry this <c>X-Consul-Token</c>.</summary>
    public string? RequiredToken { get; init; }

    // Under _lock.
    private readonly List<string> _requests = [];

    /// <summary>Every request so far as <c>METHOD path?query</c>, in order, with the body of PUTs to <c>/v1/session/create</c>.</summary>
    public IReadOnlyList<string> RequestLog()
    {
        lock (_lock)
        {
            return [.. _requests];
        }
    }

    /// <summary>Starts the stand-in.</summary>
    public static async Task<ConsulStandIn> StartAsync(TimeSpan? minSessionTtl = null, string? requiredToken = null, TimeProvider? time = null)
    {
        var standIn = new ConsulStandIn(time ?? TimeProvider.System)
        {
            MinSessionTtl = minSessionTtl ?? TimeSpan.FromSeconds(10),
            RequiredToken = requiredToken,
        };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(standIn.HandleAsync);
        await app.StartAsync();
        standIn._app = app;
        standIn.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        standIn._sweeper = standIn._time.CreateTimer(_ => standIn.Sweep(), null, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(50));
        return standIn;
    }

    /// <summary>The sessions alive now.</summary>
    public int SessionCount
    {
        get
        {
            lock (_lock)
            {
                return _sessions.Count;
            }
        }
    }

    /// <summary>A key's value and holding session, or null when it does not exist.</summary>
    public (string Value, string? Session)? Get(string key)
    {
        lock (_lock)
        {
            return _kv.TryGetValue(key, out var e) ? (Encoding.UTF8.GetString(e.Value), e.Session) : null;
        }
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var path = request.Path.Value ?? "";
        using var reader = new StreamReader(request.Body, Encoding.UTF8);
        var bodyText = await reader.ReadToEndAsync(context.RequestAborted);
        lock (_lock)
        {
            _requests.Add($"{request.Method} {path}{request.QueryString}{(path == "/v1/session/create" ? " " + bodyText : "")}");
        }
        if (RequiredToken is not null && request.Headers["X-Consul-Token"] != RequiredToken)
        {
            await Answer(context, 403, "text/plain", "Permission denied");
            return;
        }
        var body = Encoding.UTF8.GetBytes(bodyText);
        var query = request.Query;
        switch (request.Method, path)
        {
            case ("PUT", "/v1/catalog/register"):
                await Register(context, bodyText);
                return;
            case ("PUT", "/v1/session/create"):
                await CreateSession(context, bodyText);
                return;
            case ("PUT", _) when path.StartsWith("/v1/session/renew/", StringComparison.Ordinal):
                await RenewSession(context, path["/v1/session/renew/".Length..]);
                return;
            case ("PUT", _) when path.StartsWith("/v1/session/destroy/", StringComparison.Ordinal):
                lock (_lock)
                {
                    Invalidate(path["/v1/session/destroy/".Length..]);
                }
                await Answer(context, 200, "application/json", "true");
                return;
            case ("GET", _) when path.StartsWith("/v1/kv/", StringComparison.Ordinal):
                await GetKey(context, Uri.UnescapeDataString(path["/v1/kv/".Length..]));
                return;
            case ("PUT", _) when path.StartsWith("/v1/kv/", StringComparison.Ordinal):
                var (status, answer) = PutKey(Uri.UnescapeDataString(path["/v1/kv/".Length..]), body, query);
                await Answer(context, status, status == 200 ? "application/json" : "text/plain", answer);
                return;
            case ("DELETE", _) when path.StartsWith("/v1/kv/", StringComparison.Ordinal):
                lock (_lock)
                {
                    var key = Uri.UnescapeDataString(path["/v1/kv/".Length..]);
                    if (_kv.Remove(key))
                    {
                        Changed(key);
                    }
                }
                await Answer(context, 200, "application/json", "true");
                return;
            default:
                await Answer(context, 404, "text/plain", $"the Consul stand-in does not implement {request.Method} {path}");
                return;
        }
    }

    private async Task Register(HttpContext context, string body)
    {
        using var doc = JsonDocument.Parse(body);
        var node = doc.RootElement.GetProperty("Node").GetString() ?? "";
        lock (_lock)
        {
            _nodes.Add(node);
        }
        await Answer(context, 200, "application/json", "true");
    }

    private async Task CreateSession(HttpContext context, string body)
    {
        using var doc = JsonDocument.Parse(body.Length == 0 ? "{}" : body);
        var root = doc.RootElement;
        string? Text(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        var ttlText = Text("TTL") ?? "";
        var node = Text("Node") ?? AgentNode;
        var behavior = Text("Behavior") ?? "release";
        var lockDelay = TimeSpan.FromSeconds(15);
        if (Text("LockDelay") is { } delayText && !TryParseDuration(delayText, out lockDelay))
        {
            await Answer(context, 400, "text/plain", $"Request decode failed: invalid LockDelay \"{delayText}\"");
            return;
        }
        var ttl = TimeSpan.Zero;
        if (ttlText.Length > 0 && (!TryParseDuration(ttlText, out ttl) || ttl < MinSessionTtl || ttl > TimeSpan.FromHours(24)))
        {
            await Answer(context, 500, "text/plain", $"Invalid Session TTL '{ttlText}', must be between [{MinSessionTtl.TotalSeconds}s=24h0m0s]");
            return;
        }
        if (behavior is not ("release" or "delete"))
        {
            await Answer(context, 500, "text/plain", $"Invalid Behavior setting '{behavior}'");
            return;
        }
        string? id = null;
        lock (_lock)
        {
            if (_nodes.Contains(node))
            {
                id = Guid.NewGuid().ToString();
                _sessions[id] = new Session(id, node, ttl, lockDelay, behavior) { Expires = ttl > TimeSpan.Zero ? _time.GetUtcNow() + ttl : DateTimeOffset.MaxValue };
                _index++;
            }
        }
        if (id is null)
        {
            await Answer(context, 500, "text/plain", $"Missing node registration: node \"{node}\" is not registered");
            return;
        }
        await Answer(context, 200, "application/json", $"{{\"ID\":\"{id}\"}}");
    }

    private async Task RenewSession(HttpContext context, string id)
    {
        Session? session;
        lock (_lock)
        {
            SweepLocked();
            if (_sessions.TryGetValue(id, out session) && session.Ttl > TimeSpan.Zero)
            {
                session.Expires = _time.GetUtcNow() + session.Ttl;
            }
        }
        if (session is null)
        {
            await Answer(context, 404, "text/plain", $"Session id '{id}' not found");
            return;
        }
        await Answer(context, 200, "application/json", $"[{{\"ID\":\"{id}\",\"TTL\":\"{session.Ttl.TotalSeconds}s\"}}]");
    }

    private async Task GetKey(HttpContext context, string key)
    {
        var query = context.Request.Query;
        var wantIndex = ulong.TryParse(query["index"], CultureInfo.InvariantCulture, out var i) ? i : 0;
        var wait = TryParseDuration(query["wait"].ToString(), out var w) ? w : TimeSpan.FromMinutes(5);
        var deadline = _time.GetUtcNow() + wait;
        KvEntry? found;
        while (true)
        {
            Task changed;
            lock (_lock)
            {
                SweepLocked();
                var index = _changedAt.GetValueOrDefault(key, 1UL);
                if (wantIndex == 0 || index > wantIndex || _time.GetUtcNow() >= deadline)
                {
                    context.Response.Headers["X-Consul-Index"] = index.ToString(CultureInfo.InvariantCulture);
                    found = _kv.TryGetValue(key, out var e) ? e.Snapshot() : null;
                    break;
                }
                changed = _changed.Task;
            }
            var left = deadline - _time.GetUtcNow();
            try
            {
                await changed.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, _time, context.RequestAborted);
            }
            catch (TimeoutException)
            {
            }
        }
        if (found is null)
        {
            context.Response.StatusCode = 404;
            return;
        }
        var raw = query.ContainsKey("raw");
        await Answer(context, 200, raw ? "text/plain" : "application/json", raw ? Encoding.UTF8.GetString(found.Value) : JsonEntry(found));
    }

    private (int Status, string Text) PutKey(string key, byte[] value, IQueryCollection query)
    {
        lock (_lock)
        {
            SweepLocked();
            _kv.TryGetValue(key, out var entry);
            if (query.TryGetValue("cas", out var casText))
            {
                var cas = ulong.Parse(casText.ToString(), CultureInfo.InvariantCulture);
                if (cas == 0 ? entry is not null : entry?.ModifyIndex != cas)
                {
                    return (200, "false");
                }
            }
            if (query.TryGetValue("acquire", out var acquireText))
            {
                var session = acquireText.ToString();
                if (!_sessions.ContainsKey(session))
                {
                    return (500, $"invalid session \"{session}\"");
                }
                if (entry?.Session is { } holder && holder != session)
                {
                    return (200, "false");
                }
                if (entry?.Session is null && _lockDelays.TryGetValue(key, out var until) && _time.GetUtcNow() < until)
                {
                    return (200, "false");
                }
                entry = Write(key, value, entry);
                if (entry.Session != session)
                {
                    entry.Session = session;
                    entry.LockIndex++;
                }
                return (200, "true");
            }
            if (query.TryGetValue("release", out var releaseText))
            {
                if (entry?.Session != releaseText.ToString())
                {
                    return (200, "false");
                }
                entry = Write(key, value, entry);
                entry.Session = null;
                return (200, "true");
            }
            Write(key, value, entry);
            return (200, "true");
        }
    }

    private KvEntry Write(string key, byte[] value, KvEntry? entry)
    {
        var index = ++_index;
        entry ??= _kv[key] = new KvEntry(key) { CreateIndex = index };
        entry.Value = value;
        entry.ModifyIndex = index;
        Changed(key, index);
        return entry;
    }

    private void Changed(string key, ulong? index = null)
    {
        _changedAt[key] = index ?? ++_index;
        var changed = _changed;
        _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        changed.TrySetResult();
    }

    private void Sweep()
    {
        lock (_lock)
        {
            SweepLocked();
        }
    }

    private void SweepLocked()
    {
        var now = _time.GetUtcNow();
        foreach (var session in _sessions.Values.Where(s => now >= s.Expires).ToList())
        {
            Invalidate(session.Id);
        }
    }

    /// <summary>Ends a session: each key it holds is deleted or released (its behaviour) and gets the lock-delay.</summary>
    private void Invalidate(string id)
    {
        if (!_sessions.Remove(id, out var session))
        {
            return;
        }
        var now = _time.GetUtcNow();
        foreach (var entry in _kv.Values.Where(e => e.Session == id).ToList())
        {
            if (session.LockDelay > TimeSpan.Zero)
            {
                _lockDelays[entry.Key] = now + session.LockDelay;
            }
            if (session.Behavior == "delete")
            {
                _kv.Remove(entry.Key);
                Changed(entry.Key);
            }
            else
            {
                entry.Session = null;
                entry.ModifyIndex = ++_index;
                Changed(entry.Key, entry.ModifyIndex);
            }
        }
    }

    private static string JsonEntry(KvEntry e)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartArray();
            json.WriteStartObject();
            json.WriteNumber("LockIndex", e.LockIndex);
            json.WriteString("Key", e.Key);
            json.WriteNumber("Flags", 0);
            if (e.Value.Length > 0)
            {
                json.WriteBase64String("Value", e.Value);
            }
            else
            {
                json.WriteNull("Value");
            }
            if (e.Session is not null)
            {
                json.WriteString("Session", e.Session);
            }
            json.WriteNumber("CreateIndex", e.CreateIndex);
            json.WriteNumber("ModifyIndex", e.ModifyIndex);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static Task Answer(HttpContext context, int status, string contentType, string text)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = contentType;
        return context.Response.WriteAsync(text);
    }

    /// <summary>Go duration text of the forms Consul's clients send: <c>10s</c>, <c>1m0s</c>, <c>1000ms</c>, <c>1.5s</c>.</summary>
    private static bool TryParseDuration(string text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
            {
                i++;
            }
            var unitStart = i;
            while (i < text.Length && !char.IsAsciiDigit(text[i]) && text[i] != '.')
            {
                i++;
            }
            if (!double.TryParse(text.AsSpan(start, unitStart - start), NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }
            var unit = text[unitStart..i];
            double? scale = unit switch
            {
                "h" => 3600e3,
                "m" => 60e3,
                "s" => 1e3,
                "ms" => 1,
                "us" or "µs" => 1e-3,
                "ns" => 1e-6,
                _ => null,
            };
            if (scale is null)
            {
                return false;
            }
            value += TimeSpan.FromMilliseconds(number * scale.Value);
        }
        return true;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_sweeper is not null)
        {
            await _sweeper.DisposeAsync();
        }
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private sealed class KvEntry(string key)
    {
        public string Key { get; } = key;

        public byte[] Value { get; set; } = [];

        public string? Session { get; set; }

        public ulong LockIndex { get; set; }

        public ulong CreateIndex { get; set; }

        public ulong ModifyIndex { get; set; }

        /// <summary>A copy to answer with outside the lock.</summary>
        public KvEntry Snapshot() => new(Key) { Value = Value, Session = Session, LockIndex = LockIndex, CreateIndex = CreateIndex, ModifyIndex = ModifyIndex };
    }

    private sealed class Session(string id, string node, TimeSpan ttl, TimeSpan lockDelay, string behavior)
    {
        public string Id { get; } = id;

        public string Node { get; } = node;

        public TimeSpan Ttl { get; } = ttl;

        public TimeSpan LockDelay { get; } = lockDelay;

        public string Behavior { get; } = behavior;

        /// <summary>Under the stand-in's lock.</summary>
        public DateTimeOffset Expires { get; set; }
    }
}
