using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Core;

/// <summary>What verifying a stored LTX file found.</summary>
internal enum LtxDamage
{
    /// <summary>The file verifies.</summary>
    None,

    /// <summary>The file ends before its header, pages and trailer are complete: a write that never finished.</summary>
    Cut,

    /// <summary>The file is all there, but a checksum or its structure does not verify: its bytes changed after it was written.</summary>
    Corrupt,
}

/// <summary>
/// A stored LTX file verified in full, and how it failed if it did: cut short (a torn write) or
/// corrupt (full length, wrong bytes). A damaged file's header and last 16 bytes are kept when
/// they read as a valid header and trailer, so start-up can compare the transaction the file
/// describes with the database (a cut file's "trailer" is page bytes, which no database's checksum
/// matches but by a 2^-63 chance).
/// </summary>
internal sealed record LtxFileCheck(string Path, LtxDamage Damage, string? Reason, LtxHeader? Header, LtxTrailer? Trailer)
{
    /// <summary>The file's name in the LTX directory.</summary>
    public string FileName => System.IO.Path.GetFileName(Path);

    /// <summary>How the damage reads in a log line: "is cut short (...)" or "is damaged (...)".</summary>
    public string Description => Damage == LtxDamage.Cut ? $"is cut short ({Reason})" : $"is damaged ({Reason})";

    /// <summary>Verifies the file at <paramref name="path"/>.</summary>
    public static LtxFileCheck Run(string path)
    {
        using var file = File.OpenRead(path);
        var tracked = new EndTrackingStream(file);
        try
        {
            var (header, trailer, _) = LtxDecoder.Verify(tracked);
            return new LtxFileCheck(path, LtxDamage.None, null, header, trailer);
        }
        catch (Exception ex) when (ex is LtxFormatException or InvalidDataException or EndOfStreamException)
        {
            var length = file.Length;
            var cut = tracked.HitEnd || length < LtxLayout.HeaderSize + LtxLayout.TrailerSize;
            return new LtxFileCheck(path, cut ? LtxDamage.Cut : LtxDamage.Corrupt, ex.Message, ReadHeader(file), length < LtxLayout.HeaderSize + LtxLayout.TrailerSize ? null : ReadTrailer(file));
        }
    }

    private static LtxHeader? ReadHeader(FileStream file)
    {
        Span<byte> raw = stackalloc byte[LtxLayout.HeaderSize];
        if (RandomAccess.Read(file.SafeFileHandle, raw, 0) < raw.Length)
        {
            return null;
        }
        try
        {
            return LtxHeader.Read(raw);
        }
        catch (LtxFormatException)
        {
            return null;
        }
    }

    /// <summary>The last 16 bytes as a trailer, when its post-apply checksum has the form one must have.</summary>
    private static LtxTrailer? ReadTrailer(FileStream file)
    {
        Span<byte> raw = stackalloc byte[LtxLayout.TrailerSize];
        if (RandomAccess.Read(file.SafeFileHandle, raw, file.Length - raw.Length) < raw.Length)
        {
            return null;
        }
        var trailer = LtxTrailer.Read(raw);
        return trailer.PostApplyChecksum.HasFlag && trailer.FileChecksum.HasFlag ? trailer : null;
    }

    /// <summary>Passes reads through and notes whether the reader wanted bytes past the end of the file.</summary>
    private sealed class EndTrackingStream(Stream inner) : ReadOnlyStream
    {
        public bool HitEnd { get; private set; }

        public override int Read(Span<byte> buffer)
        {
            var n = inner.Read(buffer);
            if (n == 0 && !buffer.IsEmpty)
            {
                HitEnd = true;
            }
            return n;
        }
    }
}
