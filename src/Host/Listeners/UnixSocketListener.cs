using System.Net.Sockets;
using KataWorkflows.Host.Configuration;

namespace KataWorkflows.Host.Listeners;

/// <summary>
/// The Unix socket listener's file: its directory is created with mode 0750, a stale socket left by a crashed host
/// is removed, the socket gets mode 0660 once Kestrel has bound it, and the file is removed at shutdown.
/// </summary>
internal sealed class UnixSocketListener
{
    /// <summary>Mode of the socket's directory when the host creates it: the group decides who may call.</summary>
    public const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
        | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;

    /// <summary>Mode of the socket.</summary>
    public const UnixFileMode SocketMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite;

    private const string Key = KataWorkflowsOptions.SectionName + ":Listen:UnixSocket";

    private UnixSocketListener(string? path) => Path = path;

    /// <summary>The socket path; null when the Unix listener is off.</summary>
    public string? Path { get; }

    /// <summary>Creates the directory and clears a stale socket before Kestrel binds.</summary>
    /// <exception cref="HostConfigurationException">The path is in use by a live host or by something that is not a socket.</exception>
    public static UnixSocketListener Prepare(ListenSection listen)
    {
        ArgumentNullException.ThrowIfNull(listen);
        if (string.IsNullOrEmpty(listen.UnixSocket))
        {
            return new UnixSocketListener(null);
        }

        var path = listen.UnixSocket;
        var directory = System.IO.Path.GetDirectoryName(path)!;
        try
        {
            // The mode applies only to directories it creates: an existing one (systemd's RuntimeDirectory) keeps its own.
            Directory.CreateDirectory(directory, DirectoryMode);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new HostConfigurationException([$"{Key}: cannot create directory '{directory}': {ex.Message}"], ex);
        }

        if (Directory.Exists(path))
        {
            throw new HostConfigurationException([$"{Key}: '{path}' is a directory, not a socket"]);
        }

        if (File.Exists(path))
        {
            if (IsLive(path))
            {
                throw new HostConfigurationException([$"{Key}: another process is already serving on '{path}'"]);
            }

            if (IsRegularFile(path))
            {
                throw new HostConfigurationException([$"{Key}: '{path}' exists and is not a socket"]);
            }

            // A socket nobody accepts on: left by a host that crashed.
            File.Delete(path);
        }

        return new UnixSocketListener(path);
    }

    /// <summary>Sets the socket's mode once Kestrel has bound it.</summary>
    public void OnListening()
    {
        if (Path is not null)
        {
            File.SetUnixFileMode(Path, SocketMode);
        }
    }

    /// <summary>Removes the socket file after the host stopped.</summary>
    public void OnStopped()
    {
        if (Path is not null && IsSocket(Path))
        {
            File.Delete(Path);
        }
    }

    private static bool IsSocket(string path) => File.Exists(path) && !IsRegularFile(path);

    private static bool IsRegularFile(string path)
    {
        // .NET exposes no file type; open(2) of a socket fails with ENXIO while a regular file opens.
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return true;
        }
    }

    private static bool IsLive(string path)
    {
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
