using System.Globalization;
using LiteFs.Ltx;
using Microsoft.Extensions.Primitives;

namespace LiteFs.Proxy;

/// <summary>
/// The read-your-writes token: the <c>__txid</c> cookie (16 lowercase hex digits, 5 minutes,
/// <c>Path=/</c>, <c>HttpOnly</c>) and the <c>Litefs-Txid</c> header. Parsing follows Go's
/// <c>Request.Cookie</c>: the first well-formed <c>__txid</c> cookie counts, malformed pairs are skipped.
/// </summary>
public static class TxIdToken
{
    /// <summary>
    /// The TXID a request waits for: the larger of its cookie and its header; zero (no wait)
    /// when both are absent, malformed or zero.
    /// </summary>
    public static TxId FromRequest(StringValues cookieHeaders, StringValues txIdHeaders)
    {
        var cookie = TryParseCookie(cookieHeaders, out var fromCookie) ? fromCookie : TxId.Zero;
        var header = txIdHeaders.Count > 0 && TxId.TryParse(txIdHeaders[0], out var fromHeader) ? fromHeader : TxId.Zero;
        return cookie > header ? cookie : header;
    }

    /// <summary>
    /// Finds the first well-formed <c>__txid</c> cookie in the <c>Cookie</c> headers and parses its
    /// value as a TXID; false when there is none or its value is not 16 hex digits.
    /// </summary>
    public static bool TryParseCookie(StringValues cookieHeaders, out TxId txId)
    {
        txId = TxId.Zero;
        foreach (var header in cookieHeaders)
        {
            if (header is null)
            {
                continue;
            }
            foreach (var range in header.AsSpan().Split(';'))
            {
                var part = header.AsSpan(range).Trim(' ');
                if (part.IsEmpty)
                {
                    continue;
                }
                var eq = part.IndexOf('=');
                var name = eq < 0 ? part : part[..eq];
                if (!name.SequenceEqual(ProxyOptions.TxIdCookieName))
                {
                    continue;
                }
                var value = eq < 0 ? [] : part[(eq + 1)..];
                if (!TryCookieValue(value, out value))
                {
                    continue; // Go skips a cookie whose value has invalid bytes and looks further
                }
                return TxId.TryParse(value, out txId);
            }
        }
        return false;
    }

    /// <summary>The <c>Set-Cookie</c> value for <paramref name="txId"/>, expiring 5 minutes after <paramref name="now"/>.</summary>
    public static string FormatSetCookie(TxId txId, DateTimeOffset now) =>
        string.Create(CultureInfo.InvariantCulture, $"{ProxyOptions.TxIdCookieName}={txId}; Path=/; Expires={(now + ProxyOptions.CookieLifetime).UtcDateTime.ToString("r", CultureInfo.InvariantCulture)}; HttpOnly");

    /// <summary>Go's <c>parseCookieValue</c>: surrounding quotes dropped, then only valid cookie-value bytes allowed.</summary>
    private static bool TryCookieValue(ReadOnlySpan<char> raw, out ReadOnlySpan<char> value)
    {
        if (raw.Length > 1 && raw[0] == '"' && raw[^1] == '"')
        {
            raw = raw[1..^1];
        }
        value = raw;
        foreach (var c in raw)
        {
            if (c is < (char)0x20 or >= (char)0x7f or '"' or ';' or '\\')
            {
                return false;
            }
        }
        return true;
    }
}
