using LiteFs.Core.Sqlite;
using LiteFs.Ltx;

namespace LiteFs.Core;

public sealed partial class Db
{
    /// <summary>
    /// Replaces the database on the primary with the SQLite file <paramref name="source"/> holds
    /// (<c>POST /import</c>), as one transaction that replicates like any other. The upload is
    /// staged to a file beside the database while it arrives and checked to be a whole SQLite
    /// database before anything is touched; then, under the node's write lock (no SQLite
    /// connection reads or writes meanwhile), a hot journal is rolled back and the WAL
    /// checkpointed, and the file becomes one LTX file at the next TXID (every page but the lock
    /// page; page 1 with its change counter and schema cookie zeroed so open connections reload
    /// it), written to disk as it is encoded, then applied. Memory stays bounded whatever the size.
    /// </summary>
    /// <returns>The position after the import.</returns>
    /// <exception cref="LiteFsException">The upload is not a whole SQLite database (<see cref="LiteFsError.Invalid"/>): nothing changed.</exception>
    public Pos Import(Stream source, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (!_host.IsPrimary)
        {
            throw new ReadOnlyReplicaException(Name);
        }
        Directory.CreateDirectory(LtxDir);
        var staged = System.IO.Path.Combine(LtxDir, $"{ReceivingPrefix}import.{Random.Shared.Next()}.tmp");
        var ltxTemp = System.IO.Path.Combine(LtxDir, $"{ReceivingPrefix}import.{Random.Shared.Next()}.ltx.tmp");
        try
        {
            using (var file = new FileStream(staged, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                source.CopyTo(file, 1 << 20);
            }
            cancellationToken.ThrowIfCancellationRequested();
            if (DatabaseHeader.CheckFile(staged) is { } problem)
            {
                throw new LiteFsException(LiteFsError.Invalid, $"cannot import {Name}: {problem}; nothing was replaced");
            }
            using var locks = AcquireWriteLock(cancellationToken);
            PrepareForHalt();
            string final;
            using (EnterSync())
            {
                final = WriteImportLtx(staged, ltxTemp, cancellationToken);
            }
            _applier.ApplyStored(final);
            return Pos;
        }
        finally
        {
            DeleteFile(staged);
            DeleteFile(ltxTemp);
        }
    }

    /// <summary>Encodes the staged database as the next transaction's LTX file, durable and renamed into place; returns its path.</summary>
    private string WriteImportLtx(string staged, string ltxTemp, CancellationToken cancellationToken)
    {
        AssertSync();
        using var database = File.OpenHandle(staged, FileMode.Open, FileAccess.Read);
        Span<byte> header = stackalloc byte[DatabaseHeader.Size];
        RandomAccess.Read(database, header, 0);
        var pageSize = DatabaseHeader.ReadPageSize(header);
        var commit = (uint)(RandomAccess.GetLength(database) / pageSize);
        if (PageSize != 0 && pageSize != PageSize && _pos.TxId.Value > 0)
        {
            throw new LiteFsException(LiteFsError.Invalid, $"cannot import {Name}: its page size is {pageSize}, the database's is {PageSize}; a database cannot change its page size");
        }
        var txid = _pos.TxId.Next;
        var ltxHeader = NewHeader(txid, commit) with { PageSize = pageSize };
        var lockPgno = LtxLayout.LockPageNumber(pageSize);
        var page = new byte[pageSize];
        var checksum = Checksum.Flag;
        using (var output = new FileStream(ltxTemp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
        {
            using (var encoder = new LtxEncoder(output))
            {
                encoder.WriteHeader(ltxHeader);
                for (uint pgno = 1; pgno <= commit; pgno++)
                {
                    if (pgno == lockPgno)
                    {
                        continue;
                    }
                    if ((pgno & 0xFFF) == 0)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                    }
                    RandomAccess.Read(database, page, (long)(pgno - 1) * pageSize);
                    if (pgno == 1)
                    {
                        DatabaseHeader.ClearChangeCounters(page);
                    }
                    checksum = checksum.Xor(Checksum.OfPage(pgno, page));
                    encoder.WritePage(pgno, page);
                }
                encoder.Finish(checksum);
            }
            output.Flush(flushToDisk: true);
        }
        var final = System.IO.Path.Combine(LtxDir, LtxFileName.Format(txid, txid));
        File.Move(ltxTemp, final, overwrite: false);
        Posix.FsyncDirectory(LtxDir);
        return final;
    }
}
