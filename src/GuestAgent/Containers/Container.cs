using KataWorkflows.GuestAgent.Cgroups;
using KataWorkflows.GuestAgent.Launch;

namespace KataWorkflows.GuestAgent.Containers;

/// <summary>A container's life as runc names it: created (set up, not yet started), running, paused, stopped.</summary>
internal enum ContainerStatus
{
    Created,
    Running,
    Paused,
    Stopped,
}

/// <summary>One container of the sandbox: its rootfs, cgroup, first process and exec'd processes.</summary>
internal sealed class Container(string id, string stateDirectory, LaunchSpec template, ContainerCgroup cgroup, IReadOnlyList<string> mounts)
{
    private readonly Dictionary<string, ContainerProcess> _processes = new(StringComparer.Ordinal);
    private bool _started;
    private bool _paused;

    public string Id { get; } = id;

    /// <summary>Where the agent keeps the container's launch specs.</summary>
    public string StateDirectory { get; } = stateDirectory;

    /// <summary>The first process's launch spec; an exec takes its rootfs and cgroup.</summary>
    public LaunchSpec Template { get; } = template;

    public ContainerCgroup Cgroup { get; } = cgroup;

    /// <summary>The storages mounted for this container, unmounted when it is removed.</summary>
    public IReadOnlyList<string> Mounts { get; } = mounts;

    /// <summary>The container's first process (set once it was launched).</summary>
    public ContainerProcess? Init { get; private set; }

    public Lock Gate { get; } = new();

    public ContainerStatus Status
    {
        get
        {
            lock (Gate)
            {
                if (Init is null || Init.HasExited)
                {
                    return Init is null ? ContainerStatus.Created : ContainerStatus.Stopped;
                }
                return !_started ? ContainerStatus.Created : _paused ? ContainerStatus.Paused : ContainerStatus.Running;
            }
        }
    }

    public void SetInit(ContainerProcess init)
    {
        lock (Gate)
        {
            Init = init;
            _processes[init.ExecId] = init;
        }
    }

    public void MarkStarted()
    {
        lock (Gate)
        {
            _started = true;
        }
    }

    public void MarkPaused(bool paused)
    {
        lock (Gate)
        {
            _paused = paused;
        }
    }

    public bool TryAddProcess(ContainerProcess process)
    {
        lock (Gate)
        {
            return _processes.TryAdd(process.ExecId, process);
        }
    }

    public bool HasProcess(string execId)
    {
        lock (Gate)
        {
            return _processes.ContainsKey(execId);
        }
    }

    public ContainerProcess? FindProcess(string execId)
    {
        lock (Gate)
        {
            return _processes.GetValueOrDefault(execId);
        }
    }

    /// <summary>Forgets an exec'd process once it was waited for (the first process stays until the container goes).</summary>
    public void ForgetProcess(ContainerProcess process)
    {
        lock (Gate)
        {
            if (!ReferenceEquals(process, Init))
            {
                _processes.Remove(process.ExecId);
                process.Dispose();
            }
        }
    }

    public IReadOnlyList<ContainerProcess> AllProcesses()
    {
        lock (Gate)
        {
            return [.. _processes.Values];
        }
    }
}
