using System.Buffers.Binary;

namespace LiteFs.Ltx;

/// <summary>The 100-byte LTX file header.</summary>
public readonly record struct LtxHeader
{
    /// <summary>Header flags; bit 0 (<see cref="LtxLayout.FlagCompressLz4"/>) means the page block is LZ4-compressed.</summary>
    public uint Flags { get; init; }

    /// <summary>Database page size in bytes.</summary>
    public int PageSize { get; init; }

    /// <summary>Database size in pages after the file is applied; 0 records a deleted database.</summary>
    public uint Commit { get; init; }

    /// <summary>First transaction in the file.</summary>
    public TxId MinTxId { get; init; }

    /// <summary>Last transaction in the file.</summary>
    public TxId MaxTxId { get; init; }

    /// <summary>Milliseconds since the Unix epoch when the transaction was recorded.</summary>
    public long Timestamp { get; init; }

    /// <summary>Database checksum the file applies on top of; zero for snapshots.</summary>
    public Checksum PreApplyChecksum { get; init; }

    /// <summary>Offset of the transaction's first frame in the originating WAL, or 0.</summary>
    public long WalOffset { get; init; }

    /// <summary>Bytes of WAL the transaction occupied, or 0.</summary>
    public long WalSize { get; init; }

    /// <summary>Salt-1 of the originating WAL header, or 0.</summary>
    public uint WalSalt1 { get; init; }

    /// <summary>Salt-2 of the originating WAL header, or 0.</summary>
    public uint WalSalt2 { get; init; }

    /// <summary>The node that wrote the file, or 0.</summary>
    public ulong NodeId { get; init; }

    /// <summary>Whether the file is a snapshot (MinTXID 1): every page of the database.</summary>
    public bool IsSnapshot => MinTxId.Value == 1;

    /// <summary>Whether the page block is an LZ4 frame.</summary>
    public bool IsCompressed => (Flags & LtxLayout.FlagCompressLz4) != 0;

    /// <summary>The position the file must be applied on.</summary>
    public Pos PreApplyPos => new(new TxId(MinTxId.Value - 1), PreApplyChecksum);

    /// <summary>The header time as a <see cref="DateTimeOffset"/>.</summary>
    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(Timestamp);

    /// <summary>Writes the header, reserved bytes zeroed, into the first 100 bytes of <paramref name="destination"/>.</summary>
    public void Write(Span<byte> destination)
    {
        var b = destination[..LtxLayout.HeaderSize];
        LtxLayout.MagicBytes.CopyTo(b);
        BinaryPrimitives.WriteUInt32BigEndian(b[LtxLayout.Flags..], Flags);
        BinaryPrimitives.WriteUInt32BigEndian(b[LtxLayout.PageSize..], (uint)PageSize);
        BinaryPrimitives.WriteUInt32BigEndian(b[LtxLayout.Commit..], Commit);
        BinaryPrimitives.WriteUInt64BigEndian(b[LtxLayout.MinTxId..], MinTxId.Value);
        BinaryPrimitives.WriteUInt64BigEndian(b[LtxLayout.MaxTxId..], MaxTxId.Value);
        BinaryPrimitives.WriteInt64BigEndian(b[LtxLayout.Timestamp..], Timestamp);
        BinaryPrimitives.WriteUInt64BigEndian(b[LtxLayout.PreApplyChecksum..], PreApplyChecksum.Value);
        BinaryPrimitives.WriteInt64BigEndian(b[LtxLayout.WalOffset..], WalOffset);
        BinaryPrimitives.WriteInt64BigEndian(b[LtxLayout.WalSize..], WalSize);
        BinaryPrimitives.WriteUInt32BigEndian(b[LtxLayout.WalSalt1..], WalSalt1);
        BinaryPrimitives.WriteUInt32BigEndian(b[LtxLayout.WalSalt2..], WalSalt2);
        BinaryPrimitives.WriteUInt64BigEndian(b[LtxLayout.NodeId..], NodeId);
        b[LtxLayout.Reserved..].Clear();
    }

    /// <summary>
    /// Decodes a header without validating its fields. Returns false when fewer than 100 bytes
    /// are given or the magic is not <c>LTX1</c>.
    /// </summary>
    public static bool TryRead(ReadOnlySpan<byte> source, out LtxHeader header, out int consumed)
    {
        header = default;
        consumed = 0;
        if (source.Length < LtxLayout.HeaderSize || !source[..4].SequenceEqual(LtxLayout.MagicBytes))
        {
            return false;
        }
        header = new LtxHeader
        {
            Flags = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.Flags..]),
            PageSize = (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.PageSize..]), int.MaxValue),
            Commit = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.Commit..]),
            MinTxId = new TxId(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.MinTxId..])),
            MaxTxId = new TxId(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.MaxTxId..])),
            Timestamp = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.Timestamp..]),
            PreApplyChecksum = new Checksum(BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.PreApplyChecksum..])),
            WalOffset = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.WalOffset..]),
            WalSize = BinaryPrimitives.ReadInt64BigEndian(source[LtxLayout.WalSize..]),
            WalSalt1 = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.WalSalt1..]),
            WalSalt2 = BinaryPrimitives.ReadUInt32BigEndian(source[LtxLayout.WalSalt2..]),
            NodeId = BinaryPrimitives.ReadUInt64BigEndian(source[LtxLayout.NodeId..]),
        };
        consumed = LtxLayout.HeaderSize;
        return true;
    }

    /// <summary>Decodes and validates a header, throwing <see cref="LtxFormatException"/> that names the field at fault.</summary>
    public static LtxHeader Read(ReadOnlySpan<byte> source)
    {
        if (source.Length < LtxLayout.HeaderSize)
        {
            throw new LtxFormatException("header", source.Length, $"unexpected end of file after {source.Length} bytes, inside the {LtxLayout.HeaderSize}-byte header");
        }
        if (!TryRead(source, out var header, out _))
        {
            throw new LtxFormatException("header.Magic", LtxLayout.Magic,
                $"bad magic {Convert.ToHexStringLower(source[..4])}, want 4c545831 (\"LTX1\"): not an LTX file");
        }
        header.Validate();
        return header;
    }

    /// <summary>Applies the format's header rules, throwing <see cref="LtxFormatException"/> for the first field that breaks one.</summary>
    public void Validate()
    {
        if (GetError() is { } error)
        {
            throw error;
        }
    }

    /// <summary>The first broken header rule, or null when the header is valid.</summary>
    public LtxFormatException? GetError()
    {
        if ((Flags & ~LtxLayout.FlagMask) != 0)
        {
            return Error("Flags", LtxLayout.Flags, $"invalid flags: 0x{Flags:x8} (only 0x{LtxLayout.FlagMask:x8} is defined)");
        }
        if (!LtxLayout.IsValidPageSize(PageSize))
        {
            return Error("PageSize", LtxLayout.PageSize, $"invalid page size: {PageSize} (want a power of two from 512 to 65536)");
        }
        if (MinTxId.Value == 0)
        {
            return Error("MinTXID", LtxLayout.MinTxId, "minimum transaction id required (found 0)");
        }
        if (MaxTxId.Value == 0)
        {
            return Error("MaxTXID", LtxLayout.MaxTxId, "maximum transaction id required (found 0)");
        }
        if (MinTxId > MaxTxId)
        {
            return Error("MaxTXID", LtxLayout.MaxTxId, $"transaction ids out of order: ({MinTxId.Value},{MaxTxId.Value})");
        }
        if (WalOffset < 0)
        {
            return Error("WALOffset", LtxLayout.WalOffset, $"wal offset cannot be negative: {WalOffset}");
        }
        if (WalSize < 0)
        {
            return Error("WALSize", LtxLayout.WalSize, $"wal size cannot be negative: {WalSize}");
        }
        if ((WalSalt1 != 0 || WalSalt2 != 0) && WalOffset == 0)
        {
            return Error("WALOffset", LtxLayout.WalOffset, $"wal offset required if salt exists (salts {WalSalt1:x8} {WalSalt2:x8})");
        }
        if (WalOffset != 0 && WalSize == 0)
        {
            return Error("WALSize", LtxLayout.WalSize, $"wal size required if wal offset exists (offset {WalOffset})");
        }
        if (WalOffset == 0 && WalSize != 0)
        {
            return Error("WALOffset", LtxLayout.WalOffset, $"wal offset required if wal size exists (size {WalSize})");
        }
        if (IsSnapshot && !PreApplyChecksum.IsZero)
        {
            return Error("PreApplyChecksum", LtxLayout.PreApplyChecksum, $"pre-apply checksum must be zero on snapshots (found {PreApplyChecksum})");
        }
        if (!IsSnapshot && PreApplyChecksum.IsZero)
        {
            return Error("PreApplyChecksum", LtxLayout.PreApplyChecksum, "pre-apply checksum required on non-snapshot files");
        }
        if (!IsSnapshot && !PreApplyChecksum.HasFlag)
        {
            return Error("PreApplyChecksum", LtxLayout.PreApplyChecksum, $"invalid pre-apply checksum format: {PreApplyChecksum} (bit 63 must be set)");
        }
        return null;
    }

    private static LtxFormatException Error(string field, int offset, string detail) => new("header." + field, offset, detail);
}
