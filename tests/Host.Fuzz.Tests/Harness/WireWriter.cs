using System.Buffers;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// Protobuf's wire format written by hand, so a test can write what the generated code never would: any bytes in a
/// string field, a wire type the field does not have, a varint longer than ten bytes, a length past the end.
/// </summary>
internal sealed class WireWriter
{
    public const int Varint = 0;
    public const int Fixed64 = 1;
    public const int LengthDelimited = 2;
    public const int StartGroup = 3;
    public const int EndGroup = 4;
    public const int Fixed32 = 5;

    private readonly ArrayBufferWriter<byte> _bytes = new();

    public int Length => _bytes.WrittenCount;

    public WireWriter Tag(long field, int wireType) => RawVarint(((ulong)field << 3) | (uint)wireType);

    public WireWriter RawVarint(ulong value)
    {
        while (value >= 0x80)
        {
            _bytes.Write([(byte)(value | 0x80)]);
            value >>= 7;
        }

        _bytes.Write([(byte)value]);
        return this;
    }

    public WireWriter Raw(ReadOnlySpan<byte> bytes)
    {
        _bytes.Write(bytes);
        return this;
    }

    public WireWriter VarintField(long field, ulong value) => Tag(field, Varint).RawVarint(value);

    public WireWriter BytesField(long field, ReadOnlySpan<byte> value)
    {
        Tag(field, LengthDelimited).RawVarint((ulong)value.Length);
        return Raw(value);
    }

    public WireWriter Fixed32Field(long field, uint value)
    {
        Tag(field, Fixed32);
        Span<byte> b = stackalloc byte[4];
        BitConverter.TryWriteBytes(b, value);
        return Raw(b);
    }

    public WireWriter Fixed64Field(long field, ulong value)
    {
        Tag(field, Fixed64);
        Span<byte> b = stackalloc byte[8];
        BitConverter.TryWriteBytes(b, value);
        return Raw(b);
    }

    public byte[] ToArray() => _bytes.WrittenSpan.ToArray();
}
