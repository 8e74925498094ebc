namespace LiteFs.Ltx.Tests;

/// <summary>The decoder reads exactly one file's bytes, so files can follow each other on a stream.</summary>
public class StreamingTests
{
    /// <summary>A non-seekable stream that hands out at most one byte per read, like a slow socket.</summary>
    private sealed class TrickleStream(byte[] data) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override int Read(Span<byte> buffer)
        {
            if (buffer.IsEmpty || _position == data.Length)
            {
                return 0;
            }
            buffer[0] = data[_position++];
            return 1;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Decoder_ConsecutiveFilesOnOneStream_EachDecodes(bool compress)
    {
        var random = new Random(11);
        var files = Enumerable.Range(1, 3).Select(i =>
        {
            var pages = Enumerable.Range(1, i).Select(p => ((uint)p, TestData.MixedPage(random, 512))).ToList();
            return (Pages: pages, Bytes: TestData.Encode(TestData.SnapshotHeader(512, (uint)i, compress, txid: (ulong)i), pages, TestData.RollingChecksum(pages)));
        }).ToList();
        var stream = new TrickleStream([.. files.SelectMany(f => f.Bytes), 0xEE]);
        var page = new byte[512];
        foreach (var (pages, bytes) in files)
        {
            using var decoder = new LtxDecoder(stream);
            decoder.ReadHeader();
            var n = 0;
            while (decoder.ReadPage(out var ph, page))
            {
                Assert.Equal(pages[n].Item2, page);
                n++;
            }
            Assert.Equal(pages.Count, n);
            Assert.Equal(bytes.Length, decoder.BytesRead);
        }
        Assert.Equal(0xEE, stream.ReadByte());
    }

    [Fact]
    public void Applier_NonSeekableStream_IsSpooledAndApplied()
    {
        var pages = new List<(uint, byte[])> { (1, SqlitePage(1024)), (2, TestData.Repeat("x", 1024)) };
        var file = TestData.Encode(TestData.SnapshotHeader(1024, 2), pages, TestData.RollingChecksum(pages));
        using var temp = new TestKit.TempDir();
        using var handle = File.OpenHandle(temp.Combine("db"), FileMode.CreateNew, FileAccess.ReadWrite);
        var applier = new LtxApplier(handle, "db");
        applier.Apply(new TrickleStream(file), "trickle");
        Assert.Equal(new Pos(new TxId(1), TestData.RollingChecksum(pages)), applier.Position);
    }

    /// <summary>A page 1 with enough of a SQLite header to give the page size.</summary>
    internal static byte[] SqlitePage(int pageSize)
    {
        var page = TestData.Repeat("header page ", pageSize);
        "SQLite format 3\0"u8.CopyTo(page);
        page[16] = (byte)(pageSize >> 8);
        page[17] = (byte)pageSize;
        if (pageSize == 65536)
        {
            page[16] = 0;
            page[17] = 1;
        }
        return page;
    }
}
