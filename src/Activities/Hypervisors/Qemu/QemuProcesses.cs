using System.Globalization;

namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// Finds the QEMU process of a run directory through <c>/proc</c>. A pid alone is never trusted (a pid file can outlive
/// its process and the pid be reused): a process counts as the sandbox's QEMU only when its command line names the
/// run directory's pid file after <c>-pidfile</c>.
/// </summary>
internal static class QemuProcesses
{
    /// <summary>A live QEMU of the run directory and the uuid on its command line.</summary>
    public readonly record struct Found(int Pid, string Uuid);

    /// <summary>The QEMU of a run directory, from its pid file, the pid given, or a scan of <c>/proc</c>; null when none lives.</summary>
    public static Found? Find(QemuRunDirectory run, int knownPid = 0)
    {
        foreach (var pid in Candidates(run, knownPid))
        {
            if (Match(pid, run) is { } found)
            {
                return found;
            }
        }

        return null;
    }

    /// <summary>Every live process whose command line names the run directory's pid file (normally one, or none).</summary>
    public static IReadOnlyList<Found> FindAll(QemuRunDirectory run, int knownPid = 0) =>
        Candidates(run, knownPid).Select(pid => Match(pid, run)).OfType<Found>().DistinctBy(f => f.Pid).ToList();

    /// <summary>Whether a process lives (a zombie does not count).</summary>
    public static bool IsAlive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");

            // "pid (comm) S ...": the state follows the last ')' (comm may hold spaces and parentheses).
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] is not ('Z' or 'X');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>A process's arguments, or null when it is gone.</summary>
    public static IReadOnlyList<string>? CommandLine(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            return raw.Length == 0 ? null : raw.TrimEnd('\0').Split('\0');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether a network device of that name is in a process's network namespace (<c>/proc/&lt;pid&gt;/net/dev</c>).</summary>
    public static bool HasLink(int pid, string name)
    {
        try
        {
            return File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/net/dev")
                .Skip(2)
                .Any(line => line.Split(':', 2)[0].Trim() == name);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The pid a pid file holds, or 0.</summary>
    public static int ReadPidFile(string path)
    {
        try
        {
            return int.TryParse(File.ReadAllText(path).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid > 1 ? pid : 0;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0;
        }
    }

    private static IEnumerable<int> Candidates(QemuRunDirectory run, int knownPid)
    {
        var fromFile = ReadPidFile(run.PidFile);
        if (fromFile > 0)
        {
            yield return fromFile;
        }

        if (knownPid > 1 && knownPid != fromFile)
        {
            yield return knownPid;
        }

        // A QEMU whose pid file is gone (removed by hand, or the host died before QEMU wrote it) is still found.
        IEnumerable<string> entries;
        try
        {
            entries = Directory.EnumerateDirectories("/proc").ToList();
        }
        catch (IOException)
        {
            yield break;
        }

        foreach (var entry in entries)
        {
            if (int.TryParse(Path.GetFileName(entry), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && pid != fromFile && pid != knownPid)
            {
                yield return pid;
            }
        }
    }

    private static Found? Match(int pid, QemuRunDirectory run)
    {
        if (CommandLine(pid) is not { } args || !IsAlive(pid))
        {
            return null;
        }

        var pidfile = -1;
        for (var i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == "-pidfile" && args[i + 1] == run.PidFile)
            {
                pidfile = i;
            }
        }

        if (pidfile < 0)
        {
            return null;
        }

        var uuid = string.Empty;
        for (var i = 0; i + 1 < args.Count; i++)
        {
            if (args[i] == "-uuid")
            {
                uuid = args[i + 1];
            }
        }

        return new Found(pid, uuid);
    }
}
