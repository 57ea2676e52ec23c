namespace KataWorkflows.RealSandbox.Tests.Harness;

/// <summary>
/// Finds what a site's sandboxes left on the host that no sandbox record accounts for: QEMU processes, network
/// namespaces, host veth ends, taps and tc filters, run directories (with their sockets, pidfiles and locks), shared
/// directories, mounts and address leases. Kata's own leak reports are the cases it is written against (runtime#366:
/// QEMU left after a failed run; runtime#2816: mounts leaked; kata-containers#5246: a restart during create leaks the VM).
/// </summary>
public static class LeakChecker
{
    /// <summary>The leaks: one line each, naming what is left and where; empty when there are none.</summary>
    /// <param name="site">The site.</param>
    /// <param name="records">The sandboxes that have a record (what is theirs may remain).</param>
    public static async Task<IReadOnlyList<string>> FindAsync(RealSite site, IReadOnlyCollection<string> records)
    {
        ArgumentNullException.ThrowIfNull(site);
        ArgumentNullException.ThrowIfNull(records);
        var leaks = new List<string>();
        bool Owned(string sandboxId) => records.Contains(sandboxId);

        foreach (var pid in Inspect.QemuProcesses(site.Directory))
        {
            var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
            var owner = site.SandboxIds.FirstOrDefault(id => cmdline.Contains(site.VmDirectory(id) + "/", StringComparison.Ordinal));
            if (owner is null || !Owned(owner))
            {
                leaks.Add($"qemu process {pid} ({owner ?? "no sandbox of the site"}): {Run.Cut(cmdline, 300)}");
            }
        }

        foreach (var ns in await Inspect.NetnsAsync(site.NetnsPrefix))
        {
            var owner = ns[site.NetnsPrefix.Length..];
            if (!Owned(owner))
            {
                leaks.Add($"network namespace {ns} (links: {string.Join(", ", await SafeLinksAsync(ns))})");
                continue;
            }

            // A namespace of a live sandbox: its taps and filters belong to the sandbox's devices only.
            foreach (var link in await SafeLinksAsync(ns))
            {
                foreach (var filter in await Inspect.IngressFiltersAsync(ns, link))
                {
                    // u32 lists its hash table's head (ht_divisor, no actions) beside each filter.
                    if (!filter.Contains("mirred", StringComparison.Ordinal) && !filter.Contains("\"ht_divisor\"", StringComparison.Ordinal))
                    {
                        leaks.Add($"tc filter on {ns}/{link} that is not a mirred redirect: {filter}");
                    }
                }
            }
        }

        var liveVeths = records.Where(site.SandboxIds.Contains).Select(id => site.HostVethOf(id)).ToHashSet(StringComparer.Ordinal);
        foreach (var link in await Inspect.LinksAsync(null, site.HostDevicePrefix))
        {
            // A sandbox with hot-plugged interfaces has more veths than eth0's; those are checked by the tests that add them.
            if (!liveVeths.Contains(link) && records.Count == 0)
            {
                leaks.Add($"host link {link}");
            }
        }

        foreach (var link in await Inspect.LinksAsync(null))
        {
            if (link.StartsWith("tap", StringComparison.Ordinal) && link.EndsWith("_kata", StringComparison.Ordinal))
            {
                leaks.Add($"tap {link} in the host's namespace (the tcfilter driver makes taps only inside a sandbox's namespace)");
            }
        }

        foreach (var (root, what) in new[] { (Path.Join(site.RunRoot, "sbs"), "sandbox run directory"), (Path.Join(site.RunRoot, "vm"), "VM run directory"), (site.SharedDirectory, "shared directory") })
        {
            if (!Directory.Exists(root))
            {
                continue;
            }

            foreach (var entry in Directory.EnumerateFileSystemEntries(root))
            {
                var name = Path.GetFileName(entry);
                if (!Owned(name))
                {
                    var files = Directory.Exists(entry) ? Directory.EnumerateFileSystemEntries(entry, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(entry, f)) : [];
                    leaks.Add($"{what} {entry} ({string.Join(", ", files.Take(20))})");
                }
            }
        }

        foreach (var mount in Inspect.MountsUnder(site.Directory))
        {
            var owner = site.SandboxIds.FirstOrDefault(id => mount.StartsWith(Path.Join(site.SharedDirectory, id) + "/", StringComparison.Ordinal) || mount == Path.Join(site.SharedDirectory, id));
            if (owner is null || !Owned(owner))
            {
                leaks.Add($"mount {mount}");
            }
        }

        var network = Path.Join(site.RunRoot, "network");
        if (Directory.Exists(network))
        {
            foreach (var file in Directory.EnumerateFiles(network))
            {
                var text = await File.ReadAllTextAsync(file, TestContext.Current.CancellationToken);
                foreach (var id in site.SandboxIds.Where(id => !Owned(id) && text.Contains($"\"{id}\"", StringComparison.Ordinal)))
                {
                    leaks.Add($"address lease of {id} in {file}");
                }
            }
        }

        return leaks;
    }

    /// <summary>Fails the test when something is left that no record accounts for.</summary>
    public static async Task AssertNoneAsync(RealSite site, IReadOnlyCollection<string> records, string when)
    {
        var leaks = await FindAsync(site, records);
        Assert.True(leaks.Count == 0, $"{when}: left behind, with no sandbox record ({string.Join(", ", records)}) to account for it:\n  {string.Join("\n  ", leaks)}");
    }

    private static async Task<IReadOnlyList<string>> SafeLinksAsync(string netns)
    {
        try
        {
            return await Inspect.LinksAsync(netns);
        }
        catch (InvalidOperationException)
        {
            return [];
        }
    }
}
