using System.Security.Cryptography;

namespace KataWorkflows.Engine;

/// <summary>The rules every instance id obeys: it names rows, files and log lines, so it must be printable and bounded.</summary>
public static class InstanceIds
{
    /// <summary>The longest instance id accepted.</summary>
    public const int MaxLength = 256;

    // The last (milliseconds << 12 | counter) handed out, so ids made in the same millisecond still increase.
    private static long s_lastOrderedStamp;

    /// <summary>
    /// A new instance id for a caller that gave none: 32 lower-case hex digits of a UUIDv7 whose 12 <c>rand_a</c>
    /// bits count within the millisecond (RFC 9562, section 6.2, method 1), so ids made by this process sort in the
    /// order they were made. Instances that run at the same time then have their rows next to each other in the
    /// store's indexes, instead of one random page each.
    /// </summary>
    public static string NewOrderedId()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() << 12;
        long stamp, last;
        do
        {
            last = Volatile.Read(ref s_lastOrderedStamp);
            stamp = Math.Max(now, last + 1);
        }
        while (Interlocked.CompareExchange(ref s_lastOrderedStamp, stamp, last) != last);

        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes[8..]);
        var milliseconds = stamp >> 12;
        for (var i = 0; i < 6; i++)
        {
            bytes[i] = (byte)(milliseconds >> (40 - (8 * i)));
        }

        bytes[6] = (byte)(0x70 | ((stamp >> 8) & 0x0F));
        bytes[7] = (byte)stamp;
        bytes[8] = (byte)(0x80 | (bytes[8] & 0x3F));
        return Convert.ToHexStringLower(bytes);
    }

    /// <summary>Checks an orchestration instance id; the message says what is wrong with it.</summary>
    /// <exception cref="ArgumentException">The id is empty, too long, has control characters or uses the entity form.</exception>
    public static void Validate(string? instanceId, string parameterName = "instanceId")
    {
        if (string.IsNullOrEmpty(instanceId))
        {
            throw new ArgumentException("The instance id is empty.", parameterName);
        }

        if (instanceId.Length > MaxLength)
        {
            throw new ArgumentException($"The instance id is {instanceId.Length} characters long; at most {MaxLength} are allowed.", parameterName);
        }

        for (var i = 0; i < instanceId.Length; i++)
        {
            if (char.IsControl(instanceId[i]))
            {
                throw new ArgumentException($"The instance id has a control character (U+{(int)instanceId[i]:X4}) at position {i}.", parameterName);
            }
        }

        if (instanceId[0] == '@')
        {
            throw new ArgumentException("The instance id starts with '@', which is reserved for entity ids (@name@key).", parameterName);
        }
    }
}
