using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;

namespace KataWorkflows.Netns.Tests;

/// <summary>Just enough Ethernet, ARP, IPv4 and UDP to play a guest on a tap.</summary>
internal static class Frames
{
    private const ushort EtherArp = 0x0806;
    private const ushort EtherIpv4 = 0x0800;

    public static ushort EtherType(byte[] frame) => frame.Length < 14 ? (ushort)0 : BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(12));

    /// <summary>An ARP request for <paramref name="target"/>: the asker's MAC and IP, else null.</summary>
    public static (byte[] Mac, IPAddress Ip)? ArpRequestFor(byte[] frame, IPAddress target)
    {
        if (EtherType(frame) != EtherArp || frame.Length < 42 || BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(20)) != 1
            || !new IPAddress(frame.AsSpan(38, 4)).Equals(target))
        {
            return null;
        }

        return (frame[22..28], new IPAddress(frame.AsSpan(28, 4)));
    }

    public static byte[] ArpReply(byte[] ownMac, IPAddress ownIp, byte[] toMac, IPAddress toIp)
    {
        var frame = new byte[42];
        Ethernet(frame, toMac, ownMac, EtherArp);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(14), 1);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(16), EtherIpv4);
        frame[18] = 6;
        frame[19] = 4;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(20), 2);
        ownMac.CopyTo(frame, 22);
        ownIp.GetAddressBytes().CopyTo(frame, 28);
        toMac.CopyTo(frame, 32);
        toIp.GetAddressBytes().CopyTo(frame, 38);
        return frame;
    }

    /// <summary>A UDP datagram to <paramref name="to"/>:<paramref name="port"/>: its source and payload, else null.</summary>
    public static (IPEndPoint From, byte[] Mac, byte[] Payload)? UdpTo(byte[] frame, IPAddress to, int port)
    {
        if (EtherType(frame) != EtherIpv4 || frame.Length < 42 || frame[23] != 17 || !new IPAddress(frame.AsSpan(30, 4)).Equals(to))
        {
            return null;
        }

        var ihl = (frame[14] & 0x0F) * 4;
        var udp = 14 + ihl;
        if (BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(udp + 2)) != port)
        {
            return null;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(udp + 4));
        var from = new IPEndPoint(new IPAddress(frame.AsSpan(26, 4)), BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(udp)));
        return (from, frame[6..12], frame[(udp + 8)..(udp + length)]);
    }

    public static byte[] Udp(byte[] fromMac, IPEndPoint from, byte[] toMac, IPEndPoint to, byte[] payload)
    {
        var frame = new byte[14 + 20 + 8 + payload.Length];
        Ethernet(frame, toMac, fromMac, EtherIpv4);
        var ip = frame.AsSpan(14, 20);
        ip[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(20 + 8 + payload.Length));
        ip[8] = 64;
        ip[9] = 17;
        from.Address.GetAddressBytes().CopyTo(ip[12..]);
        to.Address.GetAddressBytes().CopyTo(ip[16..]);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Checksum(ip));
        var udp = frame.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(udp, (ushort)from.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], (ushort)to.Port);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(8 + payload.Length));

        // A zero UDP checksum over IPv4 means "none".
        payload.CopyTo(udp[8..]);
        return frame;
    }

    public static byte[] Mac(string text) => PhysicalAddress.Parse(text.Replace(':', '-')).GetAddressBytes();

    public static string Describe(byte[] frame) => string.Create(CultureInfo.InvariantCulture, $"{frame.Length} bytes type 0x{EtherType(frame):x4}");

    private static void Ethernet(byte[] frame, byte[] to, byte[] from, ushort type)
    {
        to.CopyTo(frame, 0);
        from.CopyTo(frame, 6);
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(12), type);
    }

    private static ushort Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (var i = 0; i < header.Length; i += 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        }

        while (sum > 0xFFFF)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }

        return (ushort)~sum;
    }
}
