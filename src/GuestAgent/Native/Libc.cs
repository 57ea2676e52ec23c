using System.ComponentModel;
using System.Runtime.InteropServices;

namespace KataWorkflows.GuestAgent.Native;

/// <summary>The libc calls the agent and its container launcher make (glibc, x86-64 Linux).</summary>
internal static partial class Libc
{
    private const string Library = "libc";

    public const ulong MsReadOnly = 0x1;
    public const ulong MsNoSuid = 0x2;
    public const ulong MsNoDev = 0x4;
    public const ulong MsNoExec = 0x8;
    public const ulong MsSynchronous = 0x10;
    public const ulong MsRemount = 0x20;
    public const ulong MsDirSync = 0x80;
    public const ulong MsNoAtime = 0x400;
    public const ulong MsNoDirAtime = 0x800;
    public const ulong MsBind = 0x1000;
    public const ulong MsRec = 0x4000;
    public const ulong MsPrivate = 0x40000;
    public const ulong MsSlave = 0x80000;
    public const ulong MsShared = 0x100000;
    public const ulong MsRelatime = 0x200000;
    public const ulong MsStrictAtime = 0x1000000;

    public const int MntDetach = 2;
    private const int ClockRealtime = 0;

    [LibraryImport(Library, EntryPoint = "mount", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MountNative(string? source, string target, string? fileSystemType, ulong flags, string? data);

    [LibraryImport(Library, EntryPoint = "umount2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Umount2Native(string target, int flags);

    [LibraryImport(Library, EntryPoint = "sethostname", SetLastError = true)]
    private static partial int SetHostNameNative(byte[] name, nuint length);

    [LibraryImport(Library, EntryPoint = "chroot", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChrootNative(string path);

    [LibraryImport(Library, EntryPoint = "chdir", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChdirNative(string path);

    [LibraryImport(Library, EntryPoint = "setgroups", SetLastError = true)]
    private static partial int SetGroupsNative(nuint size, uint[] groups);

    [LibraryImport(Library, EntryPoint = "setresgid", SetLastError = true)]
    private static partial int SetResGidNative(uint real, uint effective, uint saved);

    [LibraryImport(Library, EntryPoint = "setresuid", SetLastError = true)]
    private static partial int SetResUidNative(uint real, uint effective, uint saved);

    [LibraryImport(Library, EntryPoint = "execve", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ExecveNative(string path, string?[] argv, string?[] envp);

    [LibraryImport(Library, EntryPoint = "kill", SetLastError = true)]
    private static partial int KillNative(int pid, int signal);

    [LibraryImport(Library, EntryPoint = "clock_settime", SetLastError = true)]
    private static partial int ClockSetTimeNative(int clock, in TimeSpec time);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    private static partial nint WriteNative(int fd, byte[] buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    private static partial nint ReadNative(int fd, byte[] buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int OpenNative(string path, int flags);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport(Library, EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int ChownNative(string path, int uid, int gid);

    [LibraryImport(Library, EntryPoint = "sync")]
    public static partial void Sync();

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct TimeSpec(long seconds, long nanoseconds)
    {
        public readonly long Seconds = seconds;
        public readonly long Nanoseconds = nanoseconds;
    }

    /// <summary>The errno value for "no such process".</summary>
    public const int Esrch = 3;

    private const int Eintr = 4;

    public static void Mount(string? source, string target, string? fileSystemType, ulong flags, string? data)
    {
        if (MountNative(source, target, fileSystemType, flags, string.IsNullOrEmpty(data) ? null : data) != 0)
        {
            throw Failure($"mount {source ?? "none"} on {target} (type {fileSystemType ?? "none"}, options {data ?? ""})");
        }
    }

    public static void Unmount(string target, int flags)
    {
        if (Umount2Native(target, flags) != 0)
        {
            throw Failure($"umount {target}");
        }
    }

    public static void SetHostName(string name)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(name);
        if (SetHostNameNative(bytes, (nuint)bytes.Length) != 0)
        {
            throw Failure($"sethostname {name}");
        }
    }

    public static void Chroot(string path)
    {
        if (ChrootNative(path) != 0)
        {
            throw Failure($"chroot {path}");
        }
    }

    public static void Chown(string path, int uid, int gid)
    {
        if (ChownNative(path, uid, gid) != 0)
        {
            throw Failure($"chown {path} to {uid}:{gid}");
        }
    }

    public static void Chdir(string path)
    {
        if (ChdirNative(path) != 0)
        {
            throw Failure($"chdir {path}");
        }
    }

    public static void SetIdentity(uint uid, uint gid, uint[] groups)
    {
        if (SetGroupsNative((nuint)groups.Length, groups) != 0)
        {
            throw Failure($"setgroups {string.Join(',', groups)}");
        }
        if (SetResGidNative(gid, gid, gid) != 0)
        {
            throw Failure($"setgid {gid}");
        }
        if (SetResUidNative(uid, uid, uid) != 0)
        {
            throw Failure($"setuid {uid}");
        }
    }

    /// <summary>Replaces the process image; returns only by throwing.</summary>
    public static void Execve(string path, IReadOnlyList<string> arguments, IReadOnlyList<string> environment)
    {
        var argv = new string?[arguments.Count + 1];
        for (var i = 0; i < arguments.Count; i++)
        {
            argv[i] = arguments[i];
        }
        var envp = new string?[environment.Count + 1];
        for (var i = 0; i < environment.Count; i++)
        {
            envp[i] = environment[i];
        }
        ExecveNative(path, argv, envp);
        throw Failure($"exec {path}");
    }

    /// <summary>Sends a signal; false when the process no longer exists.</summary>
    public static bool Kill(int pid, int signal)
    {
        if (KillNative(pid, signal) == 0)
        {
            return true;
        }
        var error = Marshal.GetLastPInvokeError();
        if (error == Esrch)
        {
            return false;
        }
        throw new Win32Exception(error, $"kill {pid} with signal {signal}: {Marshal.GetPInvokeErrorMessage(error)}");
    }

    /// <summary>Opens a file (a pipe end through /proc/PID/fd/N) close-on-exec, for reading or writing.</summary>
    public static int Open(string path, bool write)
    {
        const int readOnly = 0, writeOnly = 1, closeOnExec = 0x80000;
        var fd = OpenNative(path, (write ? writeOnly : readOnly) | closeOnExec);
        return fd >= 0 ? fd : throw Failure($"open {path}");
    }

    /// <summary>Writes all of <paramref name="text"/> to a file descriptor (a pipe to the agent).</summary>
    public static void WriteAll(int fd, string text)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(text);
        var done = 0;
        while (done < bytes.Length)
        {
            var chunk = bytes[done..];
            var written = WriteNative(fd, chunk, (nuint)chunk.Length);
            if (written < 0)
            {
                if (Marshal.GetLastPInvokeError() == Eintr)
                {
                    continue;
                }
                throw Failure($"write to fd {fd}");
            }
            done += (int)written;
        }
    }

    /// <summary>Reads one byte; false at end of file.</summary>
    public static bool ReadByte(int fd)
    {
        var buffer = new byte[1];
        while (true)
        {
            var read = ReadNative(fd, buffer, 1);
            if (read >= 0)
            {
                return read == 1;
            }
            if (Marshal.GetLastPInvokeError() != Eintr)
            {
                throw Failure($"read from fd {fd}");
            }
        }
    }

    public static void SetRealtimeClock(long seconds, long microseconds)
    {
        if (ClockSetTimeNative(ClockRealtime, new TimeSpec(seconds, microseconds * 1000)) != 0)
        {
            throw Failure($"clock_settime {seconds}.{microseconds:D6}");
        }
    }

    private static Win32Exception Failure(string what)
    {
        var error = Marshal.GetLastPInvokeError();
        return new Win32Exception(error, $"{what}: {Marshal.GetPInvokeErrorMessage(error)}");
    }
}
