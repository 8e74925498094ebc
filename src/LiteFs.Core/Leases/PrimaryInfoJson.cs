using System.Text;
using System.Text.Json;

namespace LiteFs.Core.Leases;

/// <summary>
/// The value a primary writes into the lease key, the same for Consul and etcd (upstream's
/// primary-info JSON): exactly <c>{"hostname":"&lt;lease.hostname&gt;","advertise-url":"&lt;lease.advertise-url&gt;"}</c>.
/// </summary>
public static class PrimaryInfoJson
{
    /// <summary>The value for <paramref name="info"/>, UTF-8, fields in upstream's order.</summary>
    public static byte[] Encode(PrimaryInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("hostname", info.Hostname);
            writer.WriteString("advertise-url", info.AdvertiseUrl);
            writer.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>
    /// Reads a lease value. Empty means nobody holds the lease (null). Unknown fields are ignored,
    /// missing ones are empty, as Go's decoder does.
    /// </summary>
    /// <exception cref="LeaseException">The value is not a JSON object.</exception>
    public static PrimaryInfo? Decode(ReadOnlySpan<byte> value)
    {
        if (value.IsEmpty)
        {
            return null;
        }
        try
        {
            var reader = new Utf8JsonReader(value);
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new LeaseException($"invalid primary info in the lease key: want a JSON object, got {Shorten(value)}");
            }
            var hostname = doc.RootElement.TryGetProperty("hostname", out var h) && h.ValueKind == JsonValueKind.String ? h.GetString()! : "";
            var url = doc.RootElement.TryGetProperty("advertise-url", out var u) && u.ValueKind == JsonValueKind.String ? u.GetString()! : "";
            return new PrimaryInfo(hostname, url);
        }
        catch (JsonException ex)
        {
            throw new LeaseException($"invalid primary info in the lease key: {ex.Message} (value {Shorten(value)})", ex);
        }
    }

    private static string Shorten(ReadOnlySpan<byte> value)
    {
        var text = Encoding.UTF8.GetString(value[..Math.Min(value.Length, 80)]);
        return value.Length > 80 ? $"\"{text}...\"" : $"\"{text}\"";
    }
}
