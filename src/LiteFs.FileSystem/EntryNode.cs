using LiteFs.Core;
using LiteFs.Fuse;

namespace LiteFs.FileSystem;

/// <summary>A file in the mount root: a database's file, or one of the node's special files.</summary>
internal abstract class EntryNode(LiteFsFileSystem fs, string database, EntryKind kind) : INode
{
    protected LiteFsFileSystem Fs { get; } = fs;

    public string Database { get; } = database;

    public EntryKind Kind { get; } = kind;

    protected Db? Db => Fs.Store.Find(Database);

    /// <summary>Whether the entry exists now (lookups of missing entries are ENOENT).</summary>
    public abstract bool Exists { get; }

    public abstract Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes);

    /// <summary>Attributes common to every entry: owner, one link, the process start time.</summary>
    protected FileAttributes Base(uint mode, long size, Timespec? mtime = null)
    {
        var time = mtime ?? Fs.Started;
        return new FileAttributes
        {
            Ino = Fs.InodeOf(Database, Kind),
            Mode = FileModes.Regular | mode,
            Size = (ulong)Math.Max(size, 0),
            Blocks = (ulong)((Math.Max(size, 0) + 511) / 512),
            NLink = 1,
            Uid = Fs.Uid,
            Gid = Fs.Gid,
            ATime = time,
            MTime = time,
            CTime = time,
        };
    }
}

/// <summary>A small read-only text file generated on each read (position, lag, primary).</summary>
internal abstract class TextNode(LiteFsFileSystem fs, string database, EntryKind kind)
    : EntryNode(fs, database, kind), INodeOpen, IHandleRead, IHandleFsync
{
    /// <summary>fsync of a generated file is an error, as upstream answers it.</summary>
    public Errno Fsync(FuseContext context, bool dataOnly) => Errno.EIO;

    protected abstract string? Text { get; }

    protected virtual uint Mode => Permissions.ReadOnly;

    protected virtual Timespec? MTime => null;

    public override bool Exists => Text is not null;

    public override Errno GetAttributes(FuseContext context, IFileHandle? handle, out FileAttributes attributes)
    {
        var text = Text;
        attributes = Base(Mode, text?.Length ?? 0, MTime);
        return text is null ? Errno.ENOENT : Errno.Ok;
    }

    public Errno Open(FuseContext context, int flags, out OpenResult result)
    {
        result = OpenResult.For(this, OpenOptions.DirectIo);
        return Exists ? Errno.Ok : Errno.ENOENT;
    }

    public Errno Read(FuseContext context, long offset, Span<byte> buffer, out int bytesRead)
    {
        bytesRead = 0;
        var text = Text;
        if (text is null)
        {
            return Errno.ENOENT;
        }
        var bytes = System.Text.Encoding.ASCII.GetBytes(text);
        if (offset < bytes.Length)
        {
            bytesRead = Math.Min(buffer.Length, bytes.Length - (int)offset);
            bytes.AsSpan((int)offset, bytesRead).CopyTo(buffer);
        }
        return Errno.Ok;
    }
}

/// <summary><c>NAME-pos</c>: the database's position, <c>TXID/CHECKSUM\n</c>.</summary>
internal sealed class PosNode(LiteFsFileSystem fs, string database) : TextNode(fs, database, EntryKind.Pos)
{
    protected override string? Text => Db is { } db ? db.RecordCommitted() + "\n" : null;

    protected override uint Mode => Permissions.ReadWrite;

    protected override Timespec? MTime => Db is { Timestamp: > 0 } db ? Timespec.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(db.Timestamp)) : null;
}

/// <summary>
/// <c>.lag</c>: milliseconds since the primary was last heard from, <c>%+010d\n</c>, always 11
/// bytes: <c>+000000000</c> on the primary, <c>+2147483647</c> (which fills all 11) until the
/// first catch-up finished. Its mtime is the primary's last timestamp.
/// </summary>
internal sealed class LagNode(LiteFsFileSystem fs) : TextNode(fs, "", EntryKind.Lag)
{
    private const int Size = 11;

    protected override string? Text
    {
        get
        {
            var store = Fs.Store;
            var ms = store.IsPrimary ? 0 : !store.IsReady ? int.MaxValue : (long)Math.Min(int.MaxValue, store.Lag.TotalMilliseconds);
            var text = ms.ToString("+000000000;-000000000", System.Globalization.CultureInfo.InvariantCulture) + "\n";
            return text.Length > Size ? text[..Size] : text;
        }
    }

    protected override Timespec? MTime => Fs.Store.IsPrimary
        ? Timespec.Now
        : Timespec.FromDateTimeOffset(DateTimeOffset.FromUnixTimeMilliseconds(Math.Max(0, Fs.Store.PrimaryTimestamp)));
}

/// <summary><c>.primary</c>: the primary's hostname, while this replica is attached to it.</summary>
internal sealed class PrimaryNode(LiteFsFileSystem fs) : TextNode(fs, "", EntryKind.Primary)
{
    protected override string? Text => Fs.Store.IsPrimary || Fs.Store.AttachedPrimaryHostname is not { Length: > 0 } host ? null : host + "\n";
}
