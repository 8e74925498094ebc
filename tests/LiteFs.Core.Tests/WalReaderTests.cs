using LiteFs.Core.Sqlite;
using LiteFs.TestKit;

namespace LiteFs.Core.Tests;

/// <summary>The upstream WAL reader fixtures.</summary>
public class WalReaderTests
{
    private static string Fixture(string name) => Path.Combine(RepoPaths.UpstreamTests, "wal-reader", name, "wal");

    private static List<(uint Pgno, uint Commit, long Offset, byte[] Data)> ReadAll(string path, int? cut = null)
    {
        using var temp = new TempDir();
        var copy = temp.Combine("wal");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(copy, cut is { } c ? bytes[..c] : bytes);
        using var handle = File.OpenHandle(copy);
        var reader = WalReader.Open(handle);
        var frames = new List<(uint, uint, long, byte[])>();
        if (reader is null)
        {
            return frames;
        }
        Assert.Equal(4096, reader.Header.PageSize);
        var page = new byte[4096];
        while (reader.ReadFrame(page, out var frame))
        {
            frames.Add((frame.Pgno, frame.Commit, reader.Offset, page.ToArray()));
        }
        return frames;
    }

    [Fact]
    public void Ok_ThreeFramesInOrder()
    {
        var frames = ReadAll(Fixture("ok"));
        Assert.Equal([(1u, 0u, 32L), (2u, 2u, 4152L), (2u, 2u, 8272L)], frames.Select(f => (f.Pgno, f.Commit, f.Offset)));
        var bytes = File.ReadAllBytes(Fixture("ok"));
        Assert.Equal(bytes[56..4152], frames[0].Data);
        Assert.Equal(bytes[4176..8272], frames[1].Data);
        Assert.Equal(bytes[8296..12392], frames[2].Data);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    [InlineData(40)]
    [InlineData(56)]
    [InlineData(1000)]
    public void ShortFile_IsEndOfWal(int length) => Assert.Empty(ReadAll(Fixture("ok"), length));

    [Theory]
    [InlineData("salt-mismatch")]
    [InlineData("frame-checksum-mismatch")]
    public void BadSecondFrame_EndsWal(string fixture) => Assert.Equal([1u], ReadAll(Fixture(fixture)).Select(f => f.Pgno));

    /// <summary>The frames <see cref="WalReader.ReadFrameAhead"/> returns through a buffer of <paramref name="bufferSize"/> bytes.</summary>
    private static List<(uint Pgno, uint Commit, long Offset, byte[] Data)> ReadAllAhead(string path, int bufferSize, int? cut = null)
    {
        using var temp = new TempDir();
        var copy = temp.Combine("wal");
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(copy, cut is { } c ? bytes[..c] : bytes);
        using var handle = File.OpenHandle(copy);
        var reader = WalReader.Open(handle);
        var frames = new List<(uint, uint, long, byte[])>();
        if (reader is null)
        {
            return frames;
        }
        var buffer = new byte[bufferSize];
        while (reader.ReadFrameAhead(buffer, out var frame, out var header))
        {
            Assert.Equal(WalHeader.FrameHeaderSize + 4096, frame.Length);
            frames.Add((header.Pgno, header.Commit, reader.Offset, frame[WalHeader.FrameHeaderSize..].ToArray()));
        }
        return frames;
    }

    [Theory]
    [InlineData("ok", 4120, null)]          // one frame per read
    [InlineData("ok", 6000, null)]          // a buffer that ends inside the second frame
    [InlineData("ok", 1 << 20, null)]       // the whole file in one read
    [InlineData("ok", 1 << 20, 8000)]       // the file ends inside the second frame
    [InlineData("ok", 4120, 12392)]
    [InlineData("salt-mismatch", 1 << 20, null)]
    [InlineData("frame-checksum-mismatch", 8240, null)]
    public void ReadFrameAhead_ReturnsWhatReadFrameDoes(string fixture, int bufferSize, int? cut)
    {
        var expected = ReadAll(Fixture(fixture), cut);
        var actual = ReadAllAhead(Fixture(fixture), bufferSize, cut);
        Assert.Equal(expected.Select(f => (f.Pgno, f.Commit, f.Offset)), actual.Select(f => (f.Pgno, f.Commit, f.Offset)));
        Assert.All(expected.Zip(actual), pair => Assert.Equal(pair.First.Data, pair.Second.Data));
    }

    [Fact]
    public void ReadFrameAhead_BufferSmallerThanAFrame_IsRejected()
    {
        using var handle = File.OpenHandle(Fixture("ok"));
        var reader = WalReader.Open(handle)!;
        var ex = Assert.Throws<ArgumentException>(() => reader.ReadFrameAhead(new byte[4096], out _, out _));
        Assert.Contains("at least one frame (4120 bytes)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void WrongBufferSize_IsRejected()
    {
        using var handle = File.OpenHandle(Fixture("ok"));
        var reader = WalReader.Open(handle)!;
        var ex = Assert.Throws<ArgumentException>(() => reader.ReadFrame(new byte[512], out _));
        Assert.Contains("buffer size (512) must match page size (4096)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ZeroHeader_IsInvalidMagic()
    {
        using var temp = new TempDir();
        File.WriteAllBytes(temp.Combine("wal"), new byte[32]);
        using var handle = File.OpenHandle(temp.Combine("wal"));
        Assert.Contains("invalid wal header magic: 0", Assert.Throws<InvalidDataException>(() => WalReader.Open(handle)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void BadHeaderChecksum_IsEmptyWal()
    {
        using var temp = new TempDir();
        var bytes = File.ReadAllBytes(Fixture("ok"));
        bytes[27] ^= 1;
        File.WriteAllBytes(temp.Combine("wal"), bytes);
        using var handle = File.OpenHandle(temp.Combine("wal"));
        Assert.Null(WalReader.Open(handle));
    }
}
