using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// SQLite's WAL checksum: over successive pairs of 32-bit words (x0, x1), read in the byte order
/// the WAL magic declares, <c>s0 += x0 + s1; s1 += x1 + s0</c> modulo 2^32.
/// </summary>
internal static class WalChecksum
{
    /// <summary>Continues the checksum (<paramref name="s0"/>, <paramref name="s1"/>) over <paramref name="data"/> (a multiple of 8 bytes).</summary>
    public static (uint S0, uint S1) Append(bool bigEndian, uint s0, uint s1, ReadOnlySpan<byte> data)
    {
        if (data.Length % 8 != 0)
        {
            throw new ArgumentException("WAL checksums cover a multiple of 8 bytes.", nameof(data));
        }
        var words = MemoryMarshal.Cast<byte, uint>(data);
        // Word order in memory matches the file; only the bytes within a word may need swapping.
        var swap = bigEndian == BitConverter.IsLittleEndian;
        for (var i = 0; i < words.Length; i += 2)
        {
            var x0 = swap ? BinaryPrimitives.ReverseEndianness(words[i]) : words[i];
            var x1 = swap ? BinaryPrimitives.ReverseEndianness(words[i + 1]) : words[i + 1];
            s0 += x0 + s1;
            s1 += x1 + s0;
        }
        return (s0, s1);
    }
}
