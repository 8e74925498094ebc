using System.Buffers.Binary;
using System.Text;
using LiteFs.Ltx;

namespace LiteFs.Core.Replication;

/// <summary>
/// The binary position map a replica sends as the <c>/stream</c> request body: a u32 count, then
/// per database (sorted by name, byte-wise) a u32 name length, the name, the u64 TXID and the u64
/// post-apply checksum, all big-endian.
/// </summary>
public static class PosMapCodec
{
    /// <summary>Database names longer than this are refused rather than allocated.</summary>
    public const int MaxNameLength = 4096;

    /// <summary>Encodes a position map.</summary>
    public static byte[] Encode(IReadOnlyDictionary<string, Pos> positions)
    {
        ArgumentNullException.ThrowIfNull(positions);
        var entries = positions.Select(kv => (Name: Encoding.UTF8.GetBytes(kv.Key), kv.Value)).ToList();
        entries.Sort((a, b) => a.Name.AsSpan().SequenceCompareTo(b.Name));
        var output = new byte[4 + entries.Sum(e => 4 + e.Name.Length + 16)];
        var span = output.AsSpan();
        BinaryPrimitives.WriteUInt32BigEndian(span, (uint)entries.Count);
        var offset = 4;
        foreach (var (name, pos) in entries)
        {
            BinaryPrimitives.WriteUInt32BigEndian(span[offset..], (uint)name.Length);
            name.CopyTo(span[(offset + 4)..]);
            offset += 4 + name.Length;
            BinaryPrimitives.WriteUInt64BigEndian(span[offset..], pos.TxId.Value);
            BinaryPrimitives.WriteUInt64BigEndian(span[(offset + 8)..], pos.PostApplyChecksum.Value);
            offset += 16;
        }
        return output;
    }

    /// <summary>Decodes a position map; a short or malformed body throws <see cref="FormatException"/> with upstream's wording.</summary>
    public static Dictionary<string, Pos> Decode(ReadOnlySpan<byte> body)
    {
        var map = new Dictionary<string, Pos>(StringComparer.Ordinal);
        var count = BinaryPrimitives.ReadUInt32BigEndian(Take(ref body, 4));
        for (uint i = 0; i < count; i++)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(Take(ref body, 4));
            if (length > MaxNameLength)
            {
                throw new FormatException($"database name of {length} bytes is too long");
            }
            var name = Encoding.UTF8.GetString(Take(ref body, (int)length));
            var values = Take(ref body, 16);
            map[name] = new Pos(new TxId(BinaryPrimitives.ReadUInt64BigEndian(values)), new Checksum(BinaryPrimitives.ReadUInt64BigEndian(values[8..])));
        }
        return map;
    }

    /// <summary>Reads a whole position map from a request body, exactly the bytes it declares.</summary>
    public static async Task<Dictionary<string, Pos>> ReadAsync(Stream body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(body);
        using var buffer = new MemoryStream();
        var head = new byte[4];
        await ReadExactAsync(body, head, cancellationToken).ConfigureAwait(false);
        buffer.Write(head);
        var count = BinaryPrimitives.ReadUInt32BigEndian(head);
        var entry = new byte[16];
        for (uint i = 0; i < count; i++)
        {
            await ReadExactAsync(body, head, cancellationToken).ConfigureAwait(false);
            buffer.Write(head);
            var length = BinaryPrimitives.ReadUInt32BigEndian(head);
            if (length > MaxNameLength)
            {
                throw new FormatException($"database name of {length} bytes is too long");
            }
            var name = new byte[length];
            await ReadExactAsync(body, name, cancellationToken).ConfigureAwait(false);
            await ReadExactAsync(body, entry, cancellationToken).ConfigureAwait(false);
            buffer.Write(name);
            buffer.Write(entry);
        }
        return Decode(buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    private static async Task ReadExactAsync(Stream body, byte[] buffer, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await body.ReadAsync(buffer.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                throw Eof();
            }
            read += n;
        }
    }

    private static ReadOnlySpan<byte> Take(ref ReadOnlySpan<byte> body, int n)
    {
        if (body.Length < n)
        {
            throw Eof();
        }
        var taken = body[..n];
        body = body[n..];
        return taken;
    }

    private static FormatException Eof() => new("unexpected EOF");
}
