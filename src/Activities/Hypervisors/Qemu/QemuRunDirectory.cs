using KataWorkflows.Activities.Agents.Kata;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// A sandbox's VM run directory, Kata's <c>/run/vc/vm/&lt;id&gt;/</c> under the host store's run root (mode 0700, made
/// by the driver): the QMP socket, the console socket and log, QEMU's pid file and the agent channel's socket (the
/// path <see cref="KataGuestLayout.AgentSocket"/> gives the Kata agent driver), each 0600.
/// </summary>
/// <param name="Path">The directory.</param>
public sealed record QemuRunDirectory(string Path)
{
    /// <summary>The directory of a sandbox under a run root: <c>&lt;runRoot&gt;/vm/&lt;sandboxId&gt;</c>.</summary>
    public static QemuRunDirectory For(string runRoot, string sandboxId) =>
        new(System.IO.Path.GetDirectoryName(KataGuestLayout.AgentSocket(runRoot, sandboxId))!);

    /// <summary>QEMU's QMP socket.</summary>
    public string QmpSocket => System.IO.Path.Join(Path, "qmp.sock");

    /// <summary>The guest's serial console, a socket the driver reads into <see cref="ConsoleLog"/>.</summary>
    public string ConsoleSocket => System.IO.Path.Join(Path, "console.sock");

    /// <summary>The console log (rotated to <c>console.log.1</c>).</summary>
    public string ConsoleLog => System.IO.Path.Join(Path, "console.log");

    /// <summary>The previous console log.</summary>
    public string ConsoleLogPrevious => ConsoleLog + ".1";

    /// <summary>QEMU's pid file.</summary>
    public string PidFile => System.IO.Path.Join(Path, "pid");

    /// <summary>The host end of the agent's virtio-serial channel.</summary>
    public string AgentSocket => System.IO.Path.Join(Path, "kata.sock");
}
