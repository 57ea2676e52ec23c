using System.Text;
using Google.Protobuf.Reflection;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// Builds the request bytes for one method from its message descriptor: every field of the request, nested messages
/// included, gets bad values of its type (<see cref="Inputs"/>), and the rest of the inputs break the encoding itself:
/// truncated and bit-flipped messages, wrong wire types, random bytes, a message over the host's size limit, huge
/// repeated fields, nesting past any recursion limit.
/// </summary>
internal sealed class MessageFuzzer
{
    /// <summary>Bigger than the host's default <c>Limits:MaxRequestBytes</c> (4 MiB).</summary>
    public const int OversizedBytes = 5 * 1024 * 1024;

    private const int HugeRepeatedBytes = 3 * 1024 * 1024;

    private readonly Random _random;
    private readonly IReadOnlyList<string> _readableIds;

    public MessageFuzzer(Random random, IReadOnlyList<string> readableIds)
    {
        _random = random;
        _readableIds = readableIds;
    }

    /// <summary>The <paramref name="iteration"/>th input: the first few are the fixed cases, the rest are drawn.</summary>
    public FuzzInput Next(MessageDescriptor request, int iteration)
    {
        ArgumentNullException.ThrowIfNull(request);
        return iteration switch
        {
            0 => new FuzzInput("empty", []),
            1 => new FuzzInput("oversized", Oversized(request)),
            2 => new FuzzInput("huge-repeated", HugeRepeated(request) ?? Structured(request, 0)),
            3 => new FuzzInput("deep-nesting", DeepNesting(request)),
            4 => new FuzzInput("invalid-utf8", InvalidUtf8Everywhere(request)),
            _ => _random.Next(100) switch
            {
                < 40 => new FuzzInput("fields", Structured(request, 0)),
                < 52 => new FuzzInput("truncated", Truncated(request)),
                < 64 => new FuzzInput("random-bytes", RandomBytes()),
                < 76 => new FuzzInput("bit-flips", BitFlips(request)),
                < 92 => new FuzzInput("wrong-wire-types", WrongWireTypes(request)),
                _ => new FuzzInput("unknown-fields", UnknownFields(request)),
            },
        };
    }

    /// <summary>A message whose fields each get a bad value of their type.</summary>
    public byte[] Structured(MessageDescriptor message, int depth, string parentField = "")
    {
        var w = new WireWriter();
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            if (_random.Next(100) < (depth == 0 ? 70 : 45))
            {
                var count = field.IsRepeated ? _random.Next(1, 4) : 1;
                for (var i = 0; i < count; i++)
                {
                    Value(w, field, depth, WrapperField(message, field, parentField));
                }
            }
        }

        return w.ToArray();
    }

    private void Value(WireWriter w, FieldDescriptor field, int depth, string name)
    {
        var number = field.FieldNumber;
        switch (field.FieldType)
        {
            case FieldType.String:
                w.BytesField(number, Inputs.StringFor(_random, name, _readableIds));
                break;
            case FieldType.Bytes:
                w.BytesField(number, RandomBytes());
                break;
            case FieldType.Bool:
                w.VarintField(number, Inputs.Pick(_random, new ulong[] { 0, 1, 1, 2, 255, ulong.MaxValue }));
                break;
            case FieldType.Enum:
                // Unknown values as often as known ones.
                var known = field.EnumType.Values;
                w.VarintField(number, _random.Next(2) == 0
                    ? (ulong)(long)known[_random.Next(known.Count)].Number
                    : (ulong)Inputs.Pick(_random, new long[] { -1, known.Count, 99, 1000, int.MaxValue, int.MinValue }));
                break;
            case FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64:
                w.VarintField(number, (ulong)Inputs.Pick(_random, Inputs.Numbers));
                break;
            case FieldType.SInt32 or FieldType.SInt64:
                var n = Inputs.Pick(_random, Inputs.Numbers);
                w.VarintField(number, (ulong)((n << 1) ^ (n >> 63)));
                break;
            case FieldType.Fixed32 or FieldType.SFixed32:
                w.Fixed32Field(number, (uint)Inputs.Pick(_random, Inputs.Numbers));
                break;
            case FieldType.Float:
                w.Fixed32Field(number, BitConverter.SingleToUInt32Bits(Inputs.Pick(_random, new[] { float.NaN, float.PositiveInfinity, -0f, float.MaxValue, -1f })));
                break;
            case FieldType.Fixed64 or FieldType.SFixed64:
                w.Fixed64Field(number, (ulong)Inputs.Pick(_random, Inputs.Numbers));
                break;
            case FieldType.Double:
                w.Fixed64Field(number, BitConverter.DoubleToUInt64Bits(Inputs.Pick(_random, new[] { double.NaN, double.NegativeInfinity, double.MaxValue, -1.5, 1e300 })));
                break;
            case FieldType.Message:
                w.BytesField(number, depth >= 3 ? [] : Structured(field.MessageType, depth + 1, name));
                break;
            default:
                // Groups: not in these protocols; an empty group is still written, as a client could.
                w.Tag(number, WireWriter.StartGroup).Tag(number, WireWriter.EndGroup);
                break;
        }
    }

    /// <summary>A wrapper's <c>value</c> (StringValue) or a map entry's key and value take the name of the field holding them.</summary>
    private static string WrapperField(MessageDescriptor message, FieldDescriptor field, string parentField) =>
        parentField.Length > 0 && (message.FullName.StartsWith("google.protobuf.", StringComparison.Ordinal) || message.GetOptions()?.MapEntry == true)
            ? parentField
            : field.Name;

    private static byte[] Oversized(MessageDescriptor message)
    {
        var field = message.Fields.InFieldNumberOrder().FirstOrDefault(f => f.FieldType is FieldType.String or FieldType.Bytes);
        var filler = Encoding.ASCII.GetBytes(new string('a', OversizedBytes));
        // A message without a string field gets an unknown one: the size check comes before the parse.
        return new WireWriter().BytesField(field?.FieldNumber ?? 1000, filler).ToArray();
    }

    /// <summary>The first repeated field within two levels, with as many elements as fit in 3 MiB.</summary>
    private byte[]? HugeRepeated(MessageDescriptor message, int depth = 0)
    {
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            if (field.IsRepeated && !field.IsMap && field.FieldType != FieldType.Message)
            {
                var w = new WireWriter();
                for (var i = 0; w.Length < HugeRepeatedBytes; i++)
                {
                    if (field.FieldType == FieldType.String)
                    {
                        w.BytesField(field.FieldNumber, Encoding.ASCII.GetBytes($"fz-{i}"));
                    }
                    else
                    {
                        w.VarintField(field.FieldNumber, (ulong)(i % 3 == 0 ? 99 : i % 8));
                    }
                }

                return w.ToArray();
            }

            if (field.IsMap || (field.IsRepeated && field.FieldType == FieldType.Message))
            {
                var w = new WireWriter();
                for (var i = 0; w.Length < HugeRepeatedBytes; i++)
                {
                    w.BytesField(field.FieldNumber, field.IsMap
                        ? new WireWriter().BytesField(1, Encoding.ASCII.GetBytes($"k{i}")).BytesField(2, "v"u8).ToArray()
                        : Structured(field.MessageType, 2));
                }

                return w.ToArray();
            }
        }

        if (depth < 2)
        {
            foreach (var field in message.Fields.InFieldNumberOrder().Where(f => f.FieldType == FieldType.Message && !f.IsRepeated))
            {
                if (HugeRepeated(field.MessageType, depth + 1) is { } inner)
                {
                    return new WireWriter().BytesField(field.FieldNumber, inner).ToArray();
                }
            }
        }

        return null;
    }

    /// <summary>
    /// A message field nested in itself 200 times where the message is recursive (past protobuf's limit of 100), else
    /// 10,000 nested groups of an unknown field, which a parser has to skip through.
    /// </summary>
    private static byte[] DeepNesting(MessageDescriptor message)
    {
        if (RecursivePath(message, [], 0) is { } path)
        {
            var (prefix, cycle) = path;
            var inner = Array.Empty<byte>();
            for (var i = 0; i < 200; i++)
            {
                foreach (var field in cycle.AsEnumerable().Reverse())
                {
                    inner = new WireWriter().BytesField(field.FieldNumber, inner).ToArray();
                }
            }

            foreach (var field in prefix.AsEnumerable().Reverse())
            {
                inner = new WireWriter().BytesField(field.FieldNumber, inner).ToArray();
            }

            return inner;
        }

        var w = new WireWriter();
        for (var i = 0; i < 10_000; i++)
        {
            w.Tag(999, WireWriter.StartGroup);
        }

        for (var i = 0; i < 10_000; i++)
        {
            w.Tag(999, WireWriter.EndGroup);
        }

        return w.ToArray();
    }

    /// <summary>The fields from <paramref name="message"/> to a message that contains itself, and the fields of that cycle.</summary>
    private static (List<FieldDescriptor> Prefix, List<FieldDescriptor> Cycle)? RecursivePath(MessageDescriptor message, List<FieldDescriptor> path, int depth)
    {
        if (depth > 4)
        {
            return null;
        }

        foreach (var field in message.Fields.InFieldNumberOrder().Where(f => f.FieldType == FieldType.Message && !f.IsMap))
        {
            var seenAt = path.FindIndex(f => f.ContainingType == field.MessageType);
            if (field.MessageType == message && seenAt < 0)
            {
                return (path, [field]);
            }

            if (seenAt >= 0)
            {
                return (path[..seenAt], [.. path[seenAt..], field]);
            }

            if (RecursivePath(field.MessageType, [.. path, field], depth + 1) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Every string field, at every level, set to bytes that are not UTF-8.</summary>
    private byte[] InvalidUtf8Everywhere(MessageDescriptor message, int depth = 0)
    {
        var w = new WireWriter();
        foreach (var field in message.Fields.InFieldNumberOrder())
        {
            if (field.FieldType == FieldType.String)
            {
                w.BytesField(field.FieldNumber, Inputs.Pick(_random, Inputs.InvalidUtf8));
            }
            else if (field.FieldType == FieldType.Message && depth < 3)
            {
                w.BytesField(field.FieldNumber, InvalidUtf8Everywhere(field.MessageType, depth + 1));
            }
        }

        // A message with no string field gets one it does not know: kept as an unknown field, never decoded.
        return w.Length > 0 ? w.ToArray() : new WireWriter().BytesField(1000, [0xff, 0xfe]).ToArray();
    }

    private byte[] Truncated(MessageDescriptor message)
    {
        var whole = Structured(message, 0);
        for (var tries = 0; whole.Length < 2 && tries < 5; tries++)
        {
            whole = Structured(message, 0);
        }

        return whole.Length < 2 ? [0x0a, 0x05, 0x61] : whole[..(1 + _random.Next(whole.Length - 1))];
    }

    private byte[] RandomBytes()
    {
        var bytes = new byte[_random.Next(1, 512)];
        _random.NextBytes(bytes);
        return bytes;
    }

    private byte[] BitFlips(MessageDescriptor message)
    {
        var bytes = Structured(message, 0);
        if (bytes.Length == 0)
        {
            return RandomBytes();
        }

        for (var flips = _random.Next(1, 9); flips > 0; flips--)
        {
            bytes[_random.Next(bytes.Length)] ^= (byte)(1 << _random.Next(8));
        }

        return bytes;
    }

    /// <summary>Known field numbers with the wrong wire type, invalid wire types, field number 0, a varint past ten bytes, a length past the end.</summary>
    private byte[] WrongWireTypes(MessageDescriptor message)
    {
        var w = new WireWriter();
        var fields = message.Fields.InFieldNumberOrder();
        var number = fields.Count > 0 ? fields[_random.Next(fields.Count)].FieldNumber : 1;
        switch (_random.Next(8))
        {
            case 0:
                // A length-delimited field sent as a varint, or a varint field as a length: whichever it is not.
                var isLength = fields.Count > 0 && fields.First(f => f.FieldNumber == number).FieldType is FieldType.String or FieldType.Bytes or FieldType.Message;
                if (isLength)
                {
                    w.VarintField(number, 7);
                }
                else
                {
                    w.BytesField(number, "fz"u8);
                }

                break;
            case 1:
                w.Tag(number, 6 + _random.Next(2)).RawVarint(1);
                break;
            case 2:
                w.Tag(0, WireWriter.Varint).RawVarint(1);
                break;
            case 3:
                w.Tag(number, WireWriter.Varint).Raw([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
                break;
            case 4:
                w.Tag(number, WireWriter.LengthDelimited).RawVarint((ulong)_random.NextInt64(10, long.MaxValue)).Raw("fz"u8);
                break;
            case 5:
                w.Tag(number, WireWriter.EndGroup);
                break;
            case 6:
                w.Fixed32Field(number, 0xdeadbeef).Fixed64Field(number, 0xdeadbeefdeadbeef);
                break;
            default:
                w.Tag((1L << 29) + _random.Next(100), WireWriter.Varint).RawVarint(1);
                break;
        }

        // Sometimes after a valid start, so the parser is already inside the message when it meets the bad bytes.
        return _random.Next(2) == 0 ? [.. Structured(message, 1), .. w.ToArray()] : w.ToArray();
    }

    private byte[] UnknownFields(MessageDescriptor message)
    {
        var w = new WireWriter().Raw(Structured(message, 0));
        for (var i = _random.Next(1, 20); i > 0; i--)
        {
            var number = 100 + _random.Next(100_000);
            _ = _random.Next(3) switch
            {
                0 => w.VarintField(number, (ulong)_random.NextInt64()),
                1 => w.BytesField(number, RandomBytes()),
                _ => w.Fixed64Field(number, (ulong)_random.NextInt64()),
            };
        }

        return w.ToArray();
    }
}

/// <summary>One request: what kind of bad it is, and its bytes.</summary>
internal sealed record FuzzInput(string Kind, byte[] Bytes)
{
    /// <summary>The first bytes in hex, to tell inputs apart in a failure message.</summary>
    public string Preview => Convert.ToHexString(Bytes.AsSpan(0, Math.Min(Bytes.Length, 48))) + (Bytes.Length > 48 ? $"... ({Bytes.Length} bytes)" : string.Empty);
}
