using System.Buffers;
using System.Text;
using LiteFs.Ltx;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace LiteFs.Core.Replication;

/// <summary>
/// The primary's side of one replica's <c>/stream</c>: catches the replica up from the positions
/// it reported (stored LTX files in order, or a snapshot when its next file is gone or its
/// checksum differs), sends READY, then each new transaction as it commits, with heartbeats
/// after every second of quiet. Writes block on the output, so a slow replica slows only its
/// own stream and nothing is queued in memory but a set of changed database names.
/// </summary>
public sealed partial class PrimaryStreamer
{
    /// <summary>Stored files up to this size are read and verified in memory, then sent from there.</summary>
    private const int InMemoryFileLimit = 1 << 20;

    private readonly Store _store;
    private readonly TimeSpan _snapshotTimeout;
    private readonly ILogger _logger;

    /// <summary>Creates a streamer over <paramref name="store"/>; zero <paramref name="snapshotTimeout"/> means no limit.</summary>
    public PrimaryStreamer(Store store, TimeSpan snapshotTimeout, ILoggerFactory? loggerFactory = null)
    {
        _store = store;
        _snapshotTimeout = snapshotTimeout;
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PrimaryStreamer>();
    }

    /// <summary>
    /// Streams to one replica until <paramref name="cancellationToken"/> is cancelled (client gone
    /// or shutdown), the node stops being primary, or writing fails. Blocking. A stored file that
    /// does not verify is never sent (a snapshot goes instead). Any other error after the stream
    /// started is written into the body as text, as upstream does (the replica reports it and
    /// reconnects); an END frame is always attempted last.
    /// </summary>
    public void Run(ulong replicaId, IReadOnlyDictionary<string, Pos> positions, IReadOnlySet<string>? filter, Stream output, CancellationToken cancellationToken) =>
        Run(replicaId, positions, filter, output, handoff: null, cancellationToken);

    /// <summary>
    /// As the other overload, with the stream's handoff slot: while it is armed the stream goes on
    /// after the node stops being primary; once the lease ID is delivered (the writes have stopped)
    /// it records what SQLite committed, sends every transaction the replica lacks, then the
    /// HANDOFF frame and END (replication-protocol.md §7.1).
    /// </summary>
    public void Run(ulong replicaId, IReadOnlyDictionary<string, Pos> positions, IReadOnlySet<string>? filter, Stream output, StreamHandoff? handoff, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(positions);
        ArgumentNullException.ThrowIfNull(output);
        var writer = new StreamFrameWriter(output);
        var posMap = new Dictionary<string, Pos>(positions, StringComparer.Ordinal);
        using var subscription = _store.Subscribe(cancellationToken);
        using var tracked = _store.TrackSubscriber();
        var idText = replicaId.ToString("X16", System.Globalization.CultureInfo.InvariantCulture);
        handoff?.SetWake(() => subscription.MarkChanged(null));
        // The end of the write term wakes the stream at once: its last transactions go out before
        // another node can hold the lease.
        using var termEnded = _store.Role.WriteToken.Register(static s => ((ChangeSubscription)s!).MarkChanged(null), subscription);
        LogStreamStarted(idText, posMap.Count);
        Exception? failure = null;
        var handoffAttempted = false;
        var handedOff = false;
        try
        {
            var dirty = new HashSet<string>(posMap.Keys, StringComparer.Ordinal);
            dirty.UnionWith(_store.Databases.Select(d => d.Name));
            var readySent = false;
            var lastBeat = _store.Time.GetTimestamp();
            while (!cancellationToken.IsCancellationRequested && (_store.IsPrimary || handoff is { IsArmed: true }))
            {
                if (filter is { Count: > 0 })
                {
                    dirty.IntersectWith(filter);
                }
                if (handoff?.LeaseId is { } leaseId)
                {
                    SendHandoff(writer, leaseId, posMap, filter, readySent, cancellationToken, ref handoffAttempted);
                    handedOff = true;
                    handoff.MarkSent();
                    LogHandoffSent(idText);
                    break;
                }
                // Files and snapshots flush themselves; what else is written is flushed below.
                var unflushed = false;
                foreach (var name in dirty.Order(StringComparer.Ordinal))
                {
                    unflushed |= StreamDatabase(writer, name, posMap, cancellationToken);
                }
                // After a quiet second (a wait that ended early, such as a handoff's, sends none).
                var heartbeat = !readySent || (dirty.Count == 0 && _store.Time.GetElapsedTime(lastBeat) >= HeartbeatQuiet);
                if (!readySent)
                {
                    writer.WriteEmpty(StreamFrameType.Ready);
                    readySent = true;
                }
                if (heartbeat)
                {
                    writer.WriteHeartbeat(_store.Time.GetUtcNow().ToUnixTimeMilliseconds());
                    lastBeat = _store.Time.GetTimestamp();
                    unflushed = true;
                }
                if (unflushed)
                {
                    writer.Flush();
                }
                // While a handoff is armed the role changes under the stream: look again soon.
                dirty = subscription.Wait(handoff is { IsArmed: true } ? HandoffPoll : TimeSpan.FromSeconds(1));
            }
            if (!handedOff && readySent && !cancellationToken.IsCancellationRequested)
            {
                // The write term ended (the lease was lost or given up): this node no longer
                // writes, and what it committed reaches the replica before END, while no other
                // node can hold the lease yet (the lease monitor's margin).
                CatchUpFinally(writer, posMap, filter, cancellationToken);
                writer.Flush();
            }
        }
        catch (OperationCanceledException ex)
        {
            failure = ex;
        }
        catch (IOException ex) when (cancellationToken.IsCancellationRequested || ex.InnerException is not null)
        {
            // The replica went away.
            failure = ex;
            return;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            failure = ex;
            LogStreamFailed(idText, ex.Message);
            TryWrite(() => output.Write(Encoding.UTF8.GetBytes(ex.Message + "\n")));
        }
        finally
        {
            handoff?.Close(failure, handoffAttempted);
        }
        TryWrite(() =>
        {
            writer.WriteEmpty(StreamFrameType.End);
            writer.Flush();
        });
    }

    /// <summary>Quiet before a heartbeat: the wait's second, less the timer's slack.</summary>
    private static readonly TimeSpan HeartbeatQuiet = TimeSpan.FromMilliseconds(900);

    /// <summary>How often a stream with an armed handoff looks at the role and its slot.</summary>
    private static readonly TimeSpan HandoffPoll = TimeSpan.FromMilliseconds(5);

    /// <summary>
    /// The end of a handoff, with the node no longer writing: every transaction SQLite committed
    /// is recorded (<see cref="Store.SettleForHandoff"/>), every database brought up to date on the
    /// replica, then the HANDOFF frame.
    /// </summary>
    private void SendHandoff(StreamFrameWriter writer, string leaseId, Dictionary<string, Pos> posMap, IReadOnlySet<string>? filter, bool readySent,
        CancellationToken cancellationToken, ref bool attempted)
    {
        CatchUpFinally(writer, posMap, filter, cancellationToken);
        if (!readySent)
        {
            writer.WriteEmpty(StreamFrameType.Ready);
        }
        writer.WriteHeartbeat(_store.Time.GetUtcNow().ToUnixTimeMilliseconds());
        attempted = true;
        writer.WriteNamed(StreamFrameType.Handoff, leaseId);
        writer.Flush();
    }

    /// <summary>
    /// Once this node stopped writing: records what SQLite committed (<see cref="Store.SettleForHandoff"/>)
    /// and brings every database up to date on the replica.
    /// </summary>
    private void CatchUpFinally(StreamFrameWriter writer, Dictionary<string, Pos> posMap, IReadOnlySet<string>? filter, CancellationToken cancellationToken)
    {
        _store.SettleForHandoff(cancellationToken);
        var names = new HashSet<string>(posMap.Keys, StringComparer.Ordinal);
        names.UnionWith(_store.Databases.Select(d => d.Name));
        if (filter is { Count: > 0 })
        {
            names.IntersectWith(filter);
        }
        foreach (var name in names.Order(StringComparer.Ordinal))
        {
            StreamDatabase(writer, name, posMap, cancellationToken);
        }
    }

    /// <summary>Brings the replica up to date on one database; returns whether it wrote frames that are not flushed yet.</summary>
    private bool StreamDatabase(StreamFrameWriter writer, string name, Dictionary<string, Pos> posMap, CancellationToken cancellationToken)
    {
        var db = _store.Find(name);
        if (db is null)
        {
            writer.WriteNamed(StreamFrameType.DropDb, name);
            posMap.Remove(name);
            return true;
        }
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var client = posMap.GetValueOrDefault(name);
            var current = db.Pos;
            if (client.TxId > current.TxId || (client.TxId == current.TxId && client.PostApplyChecksum != current.PostApplyChecksum))
            {
                client = Pos.Zero; // the replica is ahead or diverged: it gets a snapshot
            }
            if (client.TxId >= current.TxId)
            {
                return false;
            }
            posMap[name] = SendNext(writer, db, client, cancellationToken);
        }
    }

    private Pos SendNext(StreamFrameWriter writer, Db db, Pos client, CancellationToken cancellationToken)
    {
        var txid = client.TxId.Next;
        if (txid.Value == 1 || db.LtxFilePath(txid) is not { } path)
        {
            return SendSnapshot(writer, db, cancellationToken);
        }
        FileStream file;
        try
        {
            file = File.OpenRead(path);
        }
        catch (FileNotFoundException)
        {
            return SendSnapshot(writer, db, cancellationToken); // removed by retention meanwhile
        }
        byte[]? rented = null;
        try
        {
            // A small file is read once and verified and sent from memory; a large one is
            // verified, then read again as it is sent.
            Stream source = file;
            if (file.Length <= InMemoryFileLimit)
            {
                var length = (int)file.Length;
                rented = ArrayPool<byte>.Shared.Rent(length);
                file.ReadExactly(rented, 0, length);
                source = new MemoryStream(rented, 0, length, writable: false);
            }
            LtxHeader header;
            LtxTrailer trailer;
            try
            {
                (header, trailer, _) = LtxDecoder.Verify(source);
            }
            catch (Exception ex) when (ex is LtxFormatException or InvalidDataException or EndOfStreamException)
            {
                // Never sent: the replica would refuse it and ask again forever. The database
                // holds the transaction; the replica gets all of it as a snapshot instead.
                LogDamagedFile(db.Name, Path.GetFileName(path), ex.Message);
                return SendSnapshot(writer, db, cancellationToken);
            }
            if (header.PreApplyChecksum != client.PostApplyChecksum)
            {
                return SendSnapshot(writer, db, cancellationToken);
            }
            source.Position = 0;
            writer.WriteLtxHeader(db.Name);
            using (var chunked = new ChunkedWriteStream(writer.Output))
            {
                source.CopyTo(chunked, ChunkedWriteStream.ChunkSize);
                chunked.Complete();
            }
            writer.WriteHwm(db.Name, TxId.Zero);
            writer.Flush();
            return new Pos(header.MaxTxId, trailer.PostApplyChecksum);
        }
        finally
        {
            file.Dispose();
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    private Pos SendSnapshot(StreamFrameWriter writer, Db db, CancellationToken cancellationToken)
    {
        LogSnapshot(db.Name);
        writer.WriteLtxHeader(db.Name);
        // Chunks reach the transport in writes of 256 KiB, not one write (and flush) per chunk.
        using var buffered = new BufferedStream(new NonClosing(writer.Output), 256 * 1024);
        Pos pos;
        using (var chunked = new ChunkedWriteStream(buffered))
        {
            pos = db.WriteSnapshot(chunked, _snapshotTimeout, cancellationToken);
            chunked.Complete();
        }
        buffered.Flush();
        writer.Flush();
        return pos;
    }

    /// <summary>Passes writes through; disposing it leaves the response open.</summary>
    private sealed class NonClosing(Stream inner) : WriteOnlyStream
    {
        public override void Write(ReadOnlySpan<byte> buffer) => inner.Write(buffer);

        public override void Flush() => inner.Flush();
    }

    private static void TryWrite(Action write)
    {
        try
        {
            write();
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
        {
        }
    }

    [LoggerMessage(250, LogLevel.Information, "stream started for replica {ReplicaId} with {Count} database position(s)")]
    private partial void LogStreamStarted(string replicaId, int count);

    [LoggerMessage(251, LogLevel.Warning, "stream to replica {ReplicaId} failed: {Reason}")]
    private partial void LogStreamFailed(string replicaId, string reason);

    [LoggerMessage(252, LogLevel.Information, "sending snapshot of {Name}")]
    private partial void LogSnapshot(string name);

    [LoggerMessage(254, LogLevel.Information, "lease handed off to replica {ReplicaId}: HANDOFF sent after its last transaction")]
    private partial void LogHandoffSent(string replicaId);

    [LoggerMessage(253, LogLevel.Error, "stored LTX file {File} of {Name} is damaged ({Reason}): not sent, the replica gets a snapshot instead (the file is kept for inspection)")]
    private partial void LogDamagedFile(string name, string file, string reason);
}
