using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace LiteFs.Http;

/// <summary>Error responses exactly as Go's <c>http.Error</c> writes them, and Go's <c>%q</c> quoting for messages.</summary>
internal static class HttpErrors
{
    /// <summary>
    /// Status, <c>Content-Type: text/plain; charset=utf-8</c>, <c>X-Content-Type-Options: nosniff</c>,
    /// body = message + <c>\n</c> with its Content-Length.
    /// </summary>
    public static Task WriteAsync(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.Headers.ContentType = "text/plain; charset=utf-8";
        response.Headers.XContentTypeOptions = "nosniff";
        var body = Encoding.UTF8.GetBytes(message + "\n");
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, context.RequestAborted).AsTask();
    }

    /// <summary>Go's <c>strconv.Quote</c>: double quotes, backslash escapes, printable runes kept.</summary>
    public static string GoQuote(string value)
    {
        var sb = new StringBuilder(value.Length + 2).Append('"');
        foreach (var rune in value.EnumerateRunes())
        {
            switch (rune.Value)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\a': sb.Append("\\a"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\v': sb.Append("\\v"); break;
                case < 0x20 or 0x7f:
                    sb.Append(CultureInfo.InvariantCulture, $"\\x{rune.Value:x2}");
                    break;
                default:
                    if (Rune.IsControl(rune) || Rune.GetUnicodeCategory(rune) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
                    {
                        sb.Append(rune.Value > 0xffff ? "\\U" + rune.Value.ToString("x8", CultureInfo.InvariantCulture) : "\\u" + rune.Value.ToString("x4", CultureInfo.InvariantCulture));
                    }
                    else
                    {
                        sb.Append(rune.ToString());
                    }
                    break;
            }
        }
        return sb.Append('"').ToString();
    }

    /// <summary>Go's <c>strconv.ParseUint(s, 16, 64)</c>: hex digits of any case, no sign, prefix or spaces.</summary>
    public static bool TryParseHex(string? text, out ulong value)
    {
        value = 0;
        return !string.IsNullOrEmpty(text) && ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>Go's <c>strconv.ParseInt(s, 10, 64)</c>: optional sign, decimal digits only.</summary>
    public static bool TryParseInt64(string? text, out long value)
    {
        value = 0;
        return !string.IsNullOrEmpty(text) && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }
}
