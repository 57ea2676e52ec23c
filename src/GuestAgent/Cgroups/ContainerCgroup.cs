using System.Globalization;

namespace KataWorkflows.GuestAgent.Cgroups;

/// <summary>
/// A container's cgroup v2 directory (<c>/sys/fs/cgroup/kata/&lt;container id&gt;</c> by default): made at
/// CreateContainer with the cpu, memory and pids controllers enabled above it, frozen and thawed through
/// <c>cgroup.freeze</c>, limited through <c>cpu.max</c>, <c>cpu.weight</c>, <c>memory.max</c> and <c>pids.max</c>,
/// read for statistics, removed once empty.
/// </summary>
internal sealed class ContainerCgroup
{
    private static readonly string[] Controllers = ["cpu", "memory", "pids"];

    private ContainerCgroup(string path) => Path = path;

    /// <summary>The cgroup's directory.</summary>
    public string Path { get; }

    /// <summary>Makes (or finds) the cgroup <paramref name="name"/> under <paramref name="parent"/>.</summary>
    public static ContainerCgroup Create(string root, string parent, string name)
    {
        var parentPath = System.IO.Path.Join(root, parent);
        Directory.CreateDirectory(parentPath);
        EnableControllers(root);
        EnableControllers(parentPath);
        var path = System.IO.Path.Join(parentPath, name);
        Directory.CreateDirectory(path);
        return new ContainerCgroup(path);
    }

    private static void EnableControllers(string path)
    {
        var available = Read(path, "cgroup.controllers").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var enabled = Read(path, "cgroup.subtree_control").Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var missing = Controllers.Where(c => available.Contains(c) && !enabled.Contains(c)).Select(c => "+" + c).ToArray();
        if (missing.Length > 0)
        {
            Write(path, "cgroup.subtree_control", string.Join(' ', missing));
        }
    }

    /// <summary>The PIDs (as the guest sees them) of every process in the cgroup.</summary>
    public IReadOnlyList<int> Processes() =>
        [.. Read(Path, "cgroup.procs").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))];

    /// <summary>Sends SIGKILL to every process in the cgroup (a frozen task dies too).</summary>
    public void KillAll()
    {
        if (Directory.Exists(Path))
        {
            foreach (var pid in Processes())
            {
                Native.Libc.Kill(pid, 9);
            }
        }
    }

    /// <summary>Freezes or thaws the cgroup and waits until <c>cgroup.events</c> reports the new state.</summary>
    public async Task SetFrozenAsync(bool frozen, CancellationToken cancellationToken)
    {
        Write(Path, "cgroup.freeze", frozen ? "1" : "0");
        var expected = frozen ? "frozen 1" : "frozen 0";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        // The kernel reports the change through cgroup.events once every task stopped (or resumed); a task in an
        // uninterruptible sleep delays it, so wait for it rather than assume it.
        while (!Read(Path, "cgroup.events").Split('\n').Contains(expected))
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{Path} did not report \"{expected}\" within 10 s");
            }
        }
    }

    /// <summary>Whether <c>cgroup.events</c> says the cgroup is frozen.</summary>
    public bool IsFrozen => Read(Path, "cgroup.events").Split('\n').Contains("frozen 1");

    /// <summary>Writes <c>cpu.max</c> from a CFS quota and period in microseconds (quota ≤ 0: no limit).</summary>
    public void SetCpuMax(long quota, ulong period)
    {
        var current = Read(Path, "cpu.max").Trim().Split(' ');
        var periodText = period > 0 ? period.ToString(CultureInfo.InvariantCulture) : current.ElementAtOrDefault(1) ?? "100000";
        Write(Path, "cpu.max", $"{(quota > 0 ? quota.ToString(CultureInfo.InvariantCulture) : "max")} {periodText}");
    }

    /// <summary>Writes <c>cpu.weight</c> from cgroup v1 CPU shares (2..262144 map onto 1..10000, as runc maps them).</summary>
    public void SetCpuShares(ulong shares)
    {
        var weight = shares == 0 ? 100 : 1 + ((Math.Clamp(shares, 2, 262144) - 2) * 9999 / 262142);
        Write(Path, "cpu.weight", weight.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>Writes <c>memory.max</c> (limit ≤ 0: no limit).</summary>
    public void SetMemoryMax(long limit) =>
        Write(Path, "memory.max", limit > 0 ? limit.ToString(CultureInfo.InvariantCulture) : "max");

    /// <summary>Writes <c>pids.max</c> (limit ≤ 0: no limit).</summary>
    public void SetPidsMax(long limit) =>
        Write(Path, "pids.max", limit > 0 ? limit.ToString(CultureInfo.InvariantCulture) : "max");

    /// <summary>The <c>key value</c> lines of a flat-keyed cgroup file (cpu.stat, memory.stat).</summary>
    public Dictionary<string, ulong> ReadKeyed(string file)
    {
        var values = new Dictionary<string, ulong>(StringComparer.Ordinal);
        foreach (var line in Read(Path, file).Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(' ', 2);
            if (parts.Length == 2 && ulong.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                values[parts[0]] = value;
            }
        }
        return values;
    }

    /// <summary>A single-value cgroup file as a number; <c>max</c> (no limit) and a missing file read as 0.</summary>
    public ulong ReadValue(string file)
    {
        var full = System.IO.Path.Join(Path, file);
        if (!File.Exists(full))
        {
            return 0;
        }
        var text = File.ReadAllText(full).Trim();
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : 0;
    }

    /// <summary>The text of one of the cgroup's files.</summary>
    public string ReadFile(string file) => Read(Path, file);

    /// <summary>
    /// Removes the cgroup once the kernel reports it empty (<c>populated 0</c>): a task that was killed or exited
    /// leaves its cgroup a moment after its parent saw it end, and rmdir fails with EBUSY until then.
    /// </summary>
    public async Task RemoveAsync(CancellationToken cancellationToken)
    {
        if (!Directory.Exists(Path))
        {
            return;
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        while (Read(Path, "cgroup.events").Split('\n').Contains("populated 1"))
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(10), timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IOException($"{Path} still holds processes {string.Join(' ', Processes())} after 10 s");
            }
        }
        Directory.Delete(Path);
    }

    private static string Read(string directory, string file) => File.ReadAllText(System.IO.Path.Join(directory, file));

    private static void Write(string directory, string file, string value)
    {
        var path = System.IO.Path.Join(directory, file);
        try
        {
            using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            RandomAccess.Write(handle, System.Text.Encoding.ASCII.GetBytes(value), 0);
        }
        catch (IOException error)
        {
            throw new IOException($"writing \"{value}\" to {path}: {error.Message}", error);
        }
    }
}
