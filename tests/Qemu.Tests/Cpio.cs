using System.Globalization;
using System.Text;

namespace KataWorkflows.Qemu.Tests;

/// <summary>A cpio archive in the "newc" format the kernel unpacks as an initramfs.</summary>
internal static class Cpio
{
    /// <summary>The archive of the entries (mode with its file type bits), with /dev/console for the kernel to open.</summary>
    public static byte[] Newc(params (string Name, byte[]? Data, int Mode)[] entries)
    {
        using var output = new MemoryStream();
        var inode = 1;
        Entry(output, inode++, "dev", [], 0x41ed);
        Entry(output, inode++, "dev/console", [], 0x2180, rdevMajor: 5, rdevMinor: 1);
        foreach (var (name, data, mode) in entries)
        {
            Entry(output, inode++, name, data ?? [], mode);
        }

        Entry(output, 0, "TRAILER!!!", [], 0);
        while (output.Length % 512 != 0)
        {
            output.WriteByte(0);
        }

        return output.ToArray();
    }

    private static void Entry(MemoryStream output, int inode, string name, byte[] data, int mode, int rdevMajor = 0, int rdevMinor = 0)
    {
        var nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        var header = new StringBuilder("070701");
        foreach (var field in (long[])[inode, mode, 0, 0, 1, 0, data.Length, 0, 0, rdevMajor, rdevMinor, nameBytes.Length, 0])
        {
            header.Append(field.ToString("x8", CultureInfo.InvariantCulture));
        }

        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(nameBytes);
        Pad(output);
        output.Write(data);
        Pad(output);
    }

    private static void Pad(MemoryStream output)
    {
        while (output.Length % 4 != 0)
        {
            output.WriteByte(0);
        }
    }
}
