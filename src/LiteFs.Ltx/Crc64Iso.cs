using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace LiteFs.Ltx;

/// <summary>
/// CRC-64 with the ISO 3309 polynomial as Go's <c>hash/crc64</c> computes it with its ISO table:
/// reflected, polynomial 0xD800000000000000, initial value and final XOR all ones. Check value
/// of "123456789" is 0xB90956C775A41001. (<c>System.IO.Hashing.Crc64</c> is the ECMA-182
/// variant and gives different values.)
/// </summary>
public static partial class Crc64Iso
{
    /// <summary>The reflected polynomial.</summary>
    public const ulong ReflectedPolynomial = 0xD800000000000000;

    private const int Slices = 16;

    // Slice-by-16: table k maps a byte to its CRC contribution k bytes before the end of a
    // 16-byte stride, so each stride costs 16 independent lookups instead of a serial chain.
    private static readonly ulong[] Table = BuildTables();

    /// <summary>
    /// Continues a CRC: <paramref name="crc"/> is the result for the bytes before
    /// <paramref name="data"/> (0 for none), as Go's <c>crc64.Update</c> takes it.
    /// </summary>
    public static ulong Append(ulong crc, ReadOnlySpan<byte> data)
    {
        if (data.Length >= FoldMinimum && IsFoldingSupported)
        {
            return ~AppendFolding(~crc, data);
        }
        return AppendTable(crc, data);
    }

    /// <summary>The slice-by-16 table form alone (what <see cref="Append"/> uses for short input, or without carry-less multiply).</summary>
    internal static ulong AppendTable(ulong crc, ReadOnlySpan<byte> data) => ~UpdateTable(~crc, data);

    /// <summary>Advances the register <paramref name="crc"/> (no pre- or post-inversion) over <paramref name="data"/>.</summary>
    private static ulong UpdateTable(ulong crc, ReadOnlySpan<byte> data)
    {
        ref var t = ref MemoryMarshal.GetArrayDataReference(Table);
        ref var p = ref MemoryMarshal.GetReference(data);
        nint n = data.Length;
        nint i = 0;
        for (; n - i >= Slices; i += Slices)
        {
            var lo = crc ^ ReadLittleEndian(ref Unsafe.Add(ref p, i));
            var hi = ReadLittleEndian(ref Unsafe.Add(ref p, i + 8));
            crc = Lookup(ref t, 15, lo) ^ Lookup(ref t, 14, lo >> 8) ^ Lookup(ref t, 13, lo >> 16) ^ Lookup(ref t, 12, lo >> 24)
                ^ Lookup(ref t, 11, lo >> 32) ^ Lookup(ref t, 10, lo >> 40) ^ Lookup(ref t, 9, lo >> 48) ^ Lookup(ref t, 8, lo >> 56)
                ^ Lookup(ref t, 7, hi) ^ Lookup(ref t, 6, hi >> 8) ^ Lookup(ref t, 5, hi >> 16) ^ Lookup(ref t, 4, hi >> 24)
                ^ Lookup(ref t, 3, hi >> 32) ^ Lookup(ref t, 2, hi >> 40) ^ Lookup(ref t, 1, hi >> 48) ^ Lookup(ref t, 0, hi >> 56);
        }
        for (; i < n; i++)
        {
            crc = Unsafe.Add(ref t, (nint)(byte)(crc ^ Unsafe.Add(ref p, i))) ^ (crc >> 8);
        }
        return crc;
    }

    /// <summary>The CRC of <paramref name="data"/> alone.</summary>
    public static ulong Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>The textbook byte-at-a-time form, kept as the reference the fast form is tested and measured against.</summary>
    internal static ulong AppendBytewise(ulong crc, ReadOnlySpan<byte> data)
    {
        crc = ~crc;
        foreach (var b in data)
        {
            crc = Table[(byte)(crc ^ b)] ^ (crc >> 8);
        }
        return ~crc;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Lookup(ref ulong table, int slice, ulong index) =>
        Unsafe.Add(ref table, (slice * 256) + (nint)(byte)index);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadLittleEndian(ref byte source)
    {
        var v = Unsafe.ReadUnaligned<ulong>(ref source);
        return BitConverter.IsLittleEndian ? v : BinaryPrimitives.ReverseEndianness(v);
    }

    private static ulong[] BuildTables()
    {
        var table = new ulong[Slices * 256];
        for (var i = 0; i < 256; i++)
        {
            var c = (ulong)i;
            for (var k = 0; k < 8; k++)
            {
                c = (c & 1) != 0 ? (c >> 1) ^ ReflectedPolynomial : c >> 1;
            }
            table[i] = c;
        }
        for (var s = 1; s < Slices; s++)
        {
            for (var i = 0; i < 256; i++)
            {
                var prev = table[((s - 1) * 256) + i];
                table[(s * 256) + i] = (prev >> 8) ^ table[(byte)prev];
            }
        }
        return table;
    }
}
