using System.Text.Json.Serialization;

namespace LiteFs.Leases.Etcd;

// The messages of etcd's v3 JSON gateway that the lease uses, in the protobuf JSON mapping:
// int64 values travel as strings, bytes as base64, fields at their default value are left out
// of answers (a missing "succeeded" is false, a missing "TTL" is 0).

/// <summary>The header every answer carries.</summary>
internal sealed class ResponseHeader
{
    [JsonPropertyName("revision")]
    public long Revision { get; set; }
}

/// <summary>An error answer: <c>{"error":"...","code":N,"message":"..."}</c> with gRPC's code.</summary>
internal sealed class ErrorResponse
{
    [JsonPropertyName("error")]
    public string? Error { get; set; }

    [JsonPropertyName("message")]
    public string? Message { get; set; }

    [JsonPropertyName("code")]
    public int Code { get; set; }
}

internal sealed class AuthenticateRequest
{
    [JsonPropertyName("name")]
    public required string Name { get; init; }

    [JsonPropertyName("password")]
    public required string Password { get; init; }
}

internal sealed class AuthenticateResponse
{
    [JsonPropertyName("token")]
    public string? Token { get; set; }
}

/// <summary><c>/v3/lease/grant</c>, <c>/v3/lease/keepalive</c>, <c>/v3/lease/revoke</c> requests.</summary>
internal sealed class LeaseRequest
{
    [JsonPropertyName("ID")]
    public long Id { get; init; }

    [JsonPropertyName("TTL")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Ttl { get; init; }
}

/// <summary>A lease as etcd answers it; <see cref="Ttl"/> 0 or less on keep-alive means the lease is gone.</summary>
internal sealed class LeaseResponse
{
    [JsonPropertyName("ID")]
    public long Id { get; set; }

    [JsonPropertyName("TTL")]
    public long Ttl { get; set; }
}

/// <summary>The keep-alive endpoint streams its answers, each wrapped in <c>result</c>.</summary>
internal sealed class KeepAliveResponse
{
    [JsonPropertyName("result")]
    public LeaseResponse? Result { get; set; }
}

internal sealed class KeyValue
{
    [JsonPropertyName("key")]
    public byte[]? Key { get; set; }

    [JsonPropertyName("value")]
    public byte[]? Value { get; set; }

    [JsonPropertyName("create_revision")]
    public long CreateRevision { get; set; }

    [JsonPropertyName("mod_revision")]
    public long ModRevision { get; set; }

    [JsonPropertyName("lease")]
    public long Lease { get; set; }
}

internal sealed class RangeRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }
}

internal sealed class RangeResponse
{
    [JsonPropertyName("header")]
    public ResponseHeader? Header { get; set; }

    [JsonPropertyName("kvs")]
    public List<KeyValue>? Kvs { get; set; }
}

internal sealed class PutRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    [JsonPropertyName("value")]
    public required byte[] Value { get; init; }

    [JsonPropertyName("lease")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public long Lease { get; init; }
}

/// <summary>One comparison of a transaction: <c>target</c> is <c>CREATE</c> (create_revision) or <c>LEASE</c>.</summary>
internal sealed class Compare
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    [JsonPropertyName("target")]
    public required string Target { get; init; }

    [JsonPropertyName("result")]
    public string Result { get; init; } = "EQUAL";

    [JsonPropertyName("create_revision")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? CreateRevision { get; init; }

    [JsonPropertyName("lease")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Lease { get; init; }
}

internal sealed class RequestOp
{
    [JsonPropertyName("request_put")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public PutRequest? Put { get; init; }

    [JsonPropertyName("request_range")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RangeRequest? Range { get; init; }
}

internal sealed class TxnRequest
{
    [JsonPropertyName("compare")]
    public required List<Compare> Compare { get; init; }

    [JsonPropertyName("success")]
    public List<RequestOp> Success { get; init; } = [];

    [JsonPropertyName("failure")]
    public List<RequestOp> Failure { get; init; } = [];
}

internal sealed class ResponseOp
{
    [JsonPropertyName("response_range")]
    public RangeResponse? Range { get; set; }
}

internal sealed class TxnResponse
{
    [JsonPropertyName("succeeded")]
    public bool Succeeded { get; set; }

    [JsonPropertyName("responses")]
    public List<ResponseOp>? Responses { get; set; }
}

internal sealed class WatchCreateRequest
{
    [JsonPropertyName("key")]
    public required byte[] Key { get; init; }

    [JsonPropertyName("start_revision")]
    public long StartRevision { get; init; }
}

internal sealed class WatchRequest
{
    [JsonPropertyName("create_request")]
    public required WatchCreateRequest CreateRequest { get; init; }
}

internal sealed class WatchEvent
{
    /// <summary><c>DELETE</c>, or absent for a put (the enum's default).</summary>
    [JsonPropertyName("type")]
    public string? Type { get; set; }

    [JsonPropertyName("kv")]
    public KeyValue? Kv { get; set; }
}

internal sealed class WatchResult
{
    [JsonPropertyName("header")]
    public ResponseHeader? Header { get; set; }

    [JsonPropertyName("created")]
    public bool Created { get; set; }

    [JsonPropertyName("canceled")]
    public bool Canceled { get; set; }

    [JsonPropertyName("cancel_reason")]
    public string? CancelReason { get; set; }

    [JsonPropertyName("compact_revision")]
    public long CompactRevision { get; set; }

    [JsonPropertyName("events")]
    public List<WatchEvent>? Events { get; set; }
}

/// <summary>One message of the watch stream; a stream that fails mid-way may carry <c>error</c> instead.</summary>
internal sealed class WatchResponse
{
    [JsonPropertyName("result")]
    public WatchResult? Result { get; set; }

    [JsonPropertyName("error")]
    public ErrorResponse? Error { get; set; }
}

/// <summary>Source-generated (trim- and AOT-safe) serialization of the gateway's messages.</summary>
[JsonSourceGenerationOptions(NumberHandling = JsonNumberHandling.AllowReadingFromString | JsonNumberHandling.WriteAsString)]
[JsonSerializable(typeof(ErrorResponse))]
[JsonSerializable(typeof(AuthenticateRequest))]
[JsonSerializable(typeof(AuthenticateResponse))]
[JsonSerializable(typeof(LeaseRequest))]
[JsonSerializable(typeof(LeaseResponse))]
[JsonSerializable(typeof(KeepAliveResponse))]
[JsonSerializable(typeof(RangeRequest))]
[JsonSerializable(typeof(RangeResponse))]
[JsonSerializable(typeof(TxnRequest))]
[JsonSerializable(typeof(TxnResponse))]
[JsonSerializable(typeof(WatchRequest))]
[JsonSerializable(typeof(WatchResponse))]
internal sealed partial class EtcdJsonContext : JsonSerializerContext;
