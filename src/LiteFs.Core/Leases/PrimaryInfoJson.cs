using System.Text;
using System.Text.Json;

namespace LiteFs.Core.Leases;

/// <summary>
/// The value a primary writes into the lease key, the same for Consul and etcd (upstream's
/// primary-info JSON): exactly <c>{"hostname":"&lt;lease.hostname&gt;","advertise-url":"&lt;lease.advertise-url&gt;"}</c>.
/// </summary>
public static class PrimaryInfoJson
{
    /// <summary>
    /// The value for <paramref name="info"/>, UTF-8, fields in upstream's order, each string
    /// escaped as Go's <c>json.Marshal</c> escapes it, so the bytes are the ones an upstream node
    /// writes for the same values: <c>"</c>, <c>\\</c>, <c>\n</c>, <c>\r</c>, <c>\t</c> by name,
    /// other control characters, <c>&lt;</c>, <c>&gt;</c>, <c>&amp;</c>, U+2028 and U+2029 as
    /// <c>\u00XX</c>, everything else as it is.
    /// </summary>
    public static byte[] Encode(PrimaryInfo info)
    {
        ArgumentNullException.ThrowIfNull(info);
        var text = new StringBuilder("{\"hostname\":");
        AppendGoString(text, info.Hostname);
        text.Append(",\"advertise-url\":");
        AppendGoString(text, info.AdvertiseUrl);
        text.Append('}');
        return Encoding.UTF8.GetBytes(text.ToString());
    }

    private static void AppendGoString(StringBuilder text, string value)
    {
        text.Append('"');
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            switch (c)
            {
                case '"':
                    text.Append("\\\"");
                    break;
                case '\\':
                    text.Append("\\\\");
                    break;
                case '\n':
                    text.Append("\\n");
                    break;
                case '\r':
                    text.Append("\\r");
                    break;
                case '\t':
                    text.Append("\\t");
                    break;
                case < ' ' or '<' or '>' or '&' or '\u2028' or '\u2029':
                    text.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
                    break;
                default:
                    // A lone surrogate is not valid UTF-8; Go writes U+FFFD for it.
                    if (char.IsSurrogate(c) && !(char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])))
                    {
                        text.Append('\ufffd');
                    }
                    else if (char.IsHighSurrogate(c))
                    {
                        text.Append(c).Append(value[++i]);
                    }
                    else
                    {
                        text.Append(c);
                    }
                    break;
            }
        }
        text.Append('"');
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
