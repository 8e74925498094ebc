using System.Text.Json.Serialization;

namespace LiteFs.Leases.Consul;

/// <summary><c>PUT /v1/session/create</c>: a session kept alive only by its TTL (no health checks).</summary>
internal sealed class SessionCreateRequest
{
    public string Name { get; init; } = "litefs";

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Node { get; init; }

    /// <summary><c>delete</c>: the key goes when the session is invalidated.</summary>
    public string Behavior { get; init; } = "delete";

    /// <summary>Go duration text, e.g. <c>10s</c>.</summary>
    public required string TTL { get; init; }

    /// <summary>Milliseconds with Go's unit, e.g. <c>1000ms</c>.</summary>
    public required string LockDelay { get; init; }

    /// <summary>Empty: no health checks, in both of the field's spellings across Consul versions.</summary>
    public List<string> Checks { get; init; } = [];

    public List<string> NodeChecks { get; init; } = [];
}

internal sealed class SessionCreateResponse
{
    public string? ID { get; set; }
}

/// <summary>One entry of <c>GET /v1/kv/KEY</c>.</summary>
internal sealed class KvEntry
{
    public string? Key { get; set; }

    public byte[]? Value { get; set; }

    public string? Session { get; set; }

    public ulong LockIndex { get; set; }

    public ulong CreateIndex { get; set; }

    public ulong ModifyIndex { get; set; }
}

/// <summary><c>PUT /v1/catalog/register</c>: the node sessions are created on when the URL has a prefix.</summary>
internal sealed class CatalogRegisterRequest
{
    public required string Node { get; init; }

    public string Address { get; init; } = "localhost";
}

/// <summary>Source-generated (trim- and AOT-safe) serialization of Consul's messages; Consul's names are PascalCase.</summary>
[JsonSerializable(typeof(SessionCreateRequest))]
[JsonSerializable(typeof(SessionCreateResponse))]
[JsonSerializable(typeof(List<KvEntry>))]
[JsonSerializable(typeof(CatalogRegisterRequest))]
internal sealed partial class ConsulJsonContext : JsonSerializerContext;
