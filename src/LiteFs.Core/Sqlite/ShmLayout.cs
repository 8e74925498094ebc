using System.Buffers.Binary;

namespace LiteFs.Core.Sqlite;

/// <summary>
/// The header of SQLite's WAL index, the <c>-shm</c> file (sqlite.org/walformat.html, "The WAL-Index
/// Format"): two copies of the index header, then the checkpoint information. Native byte order;
/// SQLite on every platform the node runs on is little-endian.
/// </summary>
internal static class ShmLayout
{
    /// <summary>Size of the first region, which holds the header: what the node writes.</summary>
    public const int RegionSize = 32768;

    /// <summary>Size of one copy of the index header.</summary>
    public const int IndexHeaderSize = ChecksumOffset + 8;

    /// <summary>Size of the whole header: two index headers and the checkpoint information.</summary>
    public const int HeaderSize = CheckpointInfoOffset + 40;

    // Index header field offsets.
    private const int VersionOffset = 0;
    private const int ChangeCounterOffset = VersionOffset + 8;    // after 4 unused bytes
    private const int IsInitOffset = ChangeCounterOffset + 4;
    private const int BigEndianChecksumOffset = IsInitOffset + 1;
    private const int PageSizeOffset = BigEndianChecksumOffset + 1; // u16; 1 means 65536
    private const int MaxFrameOffset = PageSizeOffset + 2;
    private const int PageCountOffset = MaxFrameOffset + 4;
    private const int FrameChecksumOffset = PageCountOffset + 4;  // two u32
    private const int SaltOffset = FrameChecksumOffset + 8;       // two u32
    private const int ChecksumOffset = SaltOffset + 8;            // two u32, over the 40 bytes before

    // Checkpoint information, after the two index headers.
    private const int CheckpointInfoOffset = 2 * IndexHeaderSize;
    private const int BackfillOffset = CheckpointInfoOffset;
    private const int ReadMarksOffset = BackfillOffset + 4;       // five u32
    private const int ReadMarkCount = 5;

    /// <summary>
    /// The offset of the second copy of the index header's "initialised" byte: a zero there makes
    /// the two copies differ, which SQLite takes for a header being written or needing recovery.
    /// </summary>
    public const int SecondCopyIsInitOffset = IndexHeaderSize + IsInitOffset;

    /// <summary>A read mark that no reader uses.</summary>
    private const uint ReadMarkNotUsed = 0xFFFFFFFF;

    /// <summary>
    /// Rewrites the header in <paramref name="region"/> (the first <see cref="RegionSize"/> bytes
    /// of the file as read) so that SQLite connections see an empty WAL with the given running
    /// checksum and salts over a database of <paramref name="pageCount"/> pages, and a changed
    /// database (the change counter moves): they reread every page they cached. Every read mark
    /// but the first is unused; nothing is backfilled.
    /// </summary>
    public static void WriteEmptyWalHeader(Span<byte> region, int pageSize, uint pageCount, uint s0, uint s1, uint salt1, uint salt2)
    {
        var h = region[..IndexHeaderSize];
        var previousCounter = BinaryPrimitives.ReadUInt32LittleEndian(h[ChangeCounterOffset..]);
        var previousBigEndian = h[BigEndianChecksumOffset];
        h.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(h[VersionOffset..], WalHeader.SupportedVersion);
        BinaryPrimitives.WriteUInt32LittleEndian(h[ChangeCounterOffset..], previousCounter + 1);
        h[IsInitOffset] = 1;
        h[BigEndianChecksumOffset] = previousBigEndian;
        BinaryPrimitives.WriteUInt16LittleEndian(h[PageSizeOffset..], (ushort)(pageSize == 65536 ? 1 : pageSize));
        BinaryPrimitives.WriteUInt32LittleEndian(h[MaxFrameOffset..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[PageCountOffset..], pageCount);
        BinaryPrimitives.WriteUInt32LittleEndian(h[FrameChecksumOffset..], s0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[(FrameChecksumOffset + 4)..], s1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[SaltOffset..], salt1);
        BinaryPrimitives.WriteUInt32LittleEndian(h[(SaltOffset + 4)..], salt2);
        // The index header's own checksum uses native byte order.
        var (c0, c1) = WalChecksum.Append(bigEndian: !BitConverter.IsLittleEndian, 0, 0, h[..ChecksumOffset]);
        BinaryPrimitives.WriteUInt32LittleEndian(h[ChecksumOffset..], c0);
        BinaryPrimitives.WriteUInt32LittleEndian(h[(ChecksumOffset + 4)..], c1);
        h.CopyTo(region[IndexHeaderSize..]);

        var info = region[CheckpointInfoOffset..HeaderSize];
        info.Clear();
        for (var i = 1; i < ReadMarkCount; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(info[(ReadMarksOffset - CheckpointInfoOffset + (i * 4))..], ReadMarkNotUsed);
        }
    }
}
