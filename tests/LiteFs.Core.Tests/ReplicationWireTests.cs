using LiteFs.Core.Replication;
using LiteFs.Ltx;

namespace LiteFs.Core.Tests;

/// <summary>The encodings of the replication stream: position map, chunks, frames.</summary>
public class ReplicationWireTests
{
    [Fact]
    public void PosMap_SpecExample_EncodesByteForByte()
    {
        var bytes = PosMapCodec.Encode(new Dictionary<string, Pos> { ["my.db"] = Pos.Parse("0000000000000002/907c2a69f82857f6") });
        Assert.Equal(Convert.FromHexString("00000001000000056d792e646200000000000000029" + "07c2a69f82857f6"), bytes);
        Assert.Equal([0, 0, 0, 0], PosMapCodec.Encode(new Dictionary<string, Pos>()));
    }

    [Fact]
    public void PosMap_GoldenRequestBody_Decodes()
    {
        var body = File.ReadAllBytes(Path.Combine(TestKit.RepoPaths.Golden, "stream", "b-from-txid2-incremental", "request-body.bin"));
        var map = PosMapCodec.Decode(body);
        Assert.Equal("0000000000000002/8db8bfd1c7afbe1f", Assert.Single(map, kv => kv.Key == "wal4096.db").Value.ToString());
        Assert.Equal(body, PosMapCodec.Encode(map));
    }

    [Fact]
    public void PosMap_SortsNamesBytewise()
    {
        var map = new Dictionary<string, Pos> { ["b.db"] = Pos.Zero, ["B.db"] = Pos.Zero, ["a.db"] = Pos.Zero };
        var decoded = PosMapCodec.Decode(PosMapCodec.Encode(map));
        Assert.Equal(3, decoded.Count);
        var bytes = PosMapCodec.Encode(map);
        Assert.Equal((byte)'B', bytes[8]);
    }

    [Theory]
    [InlineData("0000")]
    [InlineData("00000001")]
    [InlineData("0000000100000005")]
    [InlineData("00000001000000056d792e6462000000")]
    public void PosMap_Truncated_IsUnexpectedEof(string hex)
    {
        var ex = Assert.Throws<FormatException>(() => PosMapCodec.Decode(Convert.FromHexString(hex)));
        Assert.Equal("unexpected EOF", ex.Message);
    }

    [Fact]
    public async Task PosMap_ReadAsync_ReadsExactlyTheDeclaredBytes()
    {
        var encoded = PosMapCodec.Encode(new Dictionary<string, Pos> { ["x.db"] = Pos.Parse("0000000000000003/8000000000000001") });
        using var stream = new MemoryStream([.. encoded, 0xEE]);
        var map = await PosMapCodec.ReadAsync(stream, CancellationToken.None);
        Assert.Single(map);
        Assert.Equal(encoded.Length, stream.Position);
        await Assert.ThrowsAsync<FormatException>(() => PosMapCodec.ReadAsync(new MemoryStream([0, 0]), CancellationToken.None));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(32 * 1024)]
    [InlineData(100_000)]
    public void Chunks_RoundTrip(int size)
    {
        var data = new byte[size];
        new Random(size).NextBytes(data);
        using var wire = new MemoryStream();
        using (var writer = new ChunkedWriteStream(wire))
        {
            writer.Write(data.AsSpan(0, size / 2));
            writer.Write(data.AsSpan(size / 2));
            writer.Complete();
        }
        wire.WriteByte(0x42);
        wire.Position = 0;
        var reader = new ChunkedReadStream(wire);
        using var copy = new MemoryStream();
        reader.CopyTo(copy);
        Assert.Equal(data, copy.ToArray());
        Assert.True(reader.IsComplete);
        Assert.Equal(0x42, wire.ReadByte());
    }

    [Theory]
    [InlineData("0003616263")]
    [InlineData("00036162")]
    [InlineData("00")]
    [InlineData("")]
    public void Chunks_EndOfStreamBeforeTerminator_Throws(string hex)
    {
        var reader = new ChunkedReadStream(new MemoryStream(Convert.FromHexString(hex)));
        Assert.Throws<EndOfStreamException>(() => reader.CopyTo(Stream.Null));
    }

    [Fact]
    public void Frames_RoundTrip_AndMatchSpecBytes()
    {
        using var wire = new MemoryStream();
        var writer = new StreamFrameWriter(wire);
        writer.WriteEmpty(StreamFrameType.Ready);
        writer.WriteHeartbeat(0x18b5e2c4a10);
        writer.WriteHwm("my.db", new TxId(12));
        writer.WriteLtx("my.db", [1, 2, 3]);
        writer.WriteNamed(StreamFrameType.DropDb, "old.db");
        writer.WriteNamed(StreamFrameType.Handoff, "lease-1");
        writer.WriteEmpty(StreamFrameType.End);
        var expected = string.Concat(
            "00000002",
            "00000007" + "0000018b5e2c4a10",
            "00000006" + "000000000000000c" + "00000005" + "6d792e6462",
            "00000001" + "0000000000000000" + "00000005" + "6d792e6462" + "0003" + "010203" + "0000",
            "00000004" + "00000006" + "6f6c642e6462",
            "00000005" + "00000007" + "6c656173652d31",
            "00000003");
        Assert.Equal(expected, Convert.ToHexStringLower(wire.ToArray()));

        wire.Position = 0;
        var reader = new StreamFrameReader(wire);
        Assert.Equal(StreamFrameType.Ready, reader.Read()!.Value.Type);
        Assert.Equal(0x18b5e2c4a10, reader.Read()!.Value.Timestamp);
        var hwm = reader.Read()!.Value;
        Assert.Equal(("my.db", 12ul), (hwm.Name, hwm.TxId.Value));
        var ltx = reader.Read()!.Value;
        Assert.Equal(StreamFrameType.Ltx, ltx.Type);
        using (var payload = new MemoryStream())
        {
            reader.Payload!.CopyTo(payload);
            Assert.Equal([1, 2, 3], payload.ToArray());
        }
        Assert.Equal("old.db", reader.Read()!.Value.Name);
        Assert.Equal("lease-1", reader.Read()!.Value.LeaseId);
        Assert.Equal(StreamFrameType.End, reader.Read()!.Value.Type);
        Assert.Null(reader.Read());
    }

    [Theory]
    [InlineData("00000008", "invalid stream frame type: 0x08")]
    [InlineData("53514c69", "invalid stream frame type: 0x53514c69; the primary sent text instead of frames: \"SQLi\"")]
    [InlineData("696e76616c6964206c74780a00000003", "invalid stream frame type: 0x696e7661; the primary sent text instead of frames: \"invalid ltx\"")]
    [InlineData("000000", "the stream ended inside a frame type")]
    [InlineData("0000000700", "the stream ended inside the HEARTBEAT timestamp")]
    [InlineData("00000001000000000000000000000005616263", "the stream ended inside the LTX frame name")]
    public void Frames_Malformed_AreProtocolErrors(string hex, string message)
    {
        var reader = new StreamFrameReader(new MemoryStream(Convert.FromHexString(hex)));
        var ex = Assert.Throws<StreamProtocolException>(() => reader.Read());
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Frames_GoldenIncrementalCapture_ParsesAsDocumented()
    {
        var dir = Path.Combine(TestKit.RepoPaths.Golden, "stream", "b-from-txid2-incremental");
        using var body = File.OpenRead(Path.Combine(dir, "response-body.bin"));
        var reader = new StreamFrameReader(body);
        var types = new List<StreamFrameType>();
        var payloads = new List<byte[]>();
        while (reader.Read() is { } frame)
        {
            types.Add(frame.Type);
            if (frame.Type == StreamFrameType.Ltx)
            {
                using var copy = new MemoryStream();
                reader.Payload!.CopyTo(copy);
                payloads.Add(copy.ToArray());
            }
        }
        Assert.Equal(
            [StreamFrameType.Ltx, StreamFrameType.Hwm, StreamFrameType.Ltx, StreamFrameType.Hwm, StreamFrameType.Ltx, StreamFrameType.Hwm, StreamFrameType.Ltx, StreamFrameType.Hwm,
             StreamFrameType.Ready, StreamFrameType.Heartbeat, StreamFrameType.Heartbeat, StreamFrameType.Heartbeat],
            types);
        for (var i = 0; i < 4; i++)
        {
            var txid = new TxId((ulong)(3 + i));
            Assert.Equal(File.ReadAllBytes(Path.Combine(TestKit.RepoPaths.Golden, "wal-4096", "ltx", LtxFileName.Format(txid, txid))), payloads[i]);
        }
    }
}
