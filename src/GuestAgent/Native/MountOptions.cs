namespace KataWorkflows.GuestAgent.Native;

/// <summary>Mount options as fstab and the OCI spec write them, split into mount(2) flags and filesystem data.</summary>
internal readonly record struct MountOptions(ulong Flags, ulong Propagation, string Data)
{
    private static readonly Dictionary<string, (bool Clear, ulong Flag)> Known = new(StringComparer.Ordinal)
    {
        ["ro"] = (false, Libc.MsReadOnly),
        ["rw"] = (true, Libc.MsReadOnly),
        ["nosuid"] = (false, Libc.MsNoSuid),
        ["suid"] = (true, Libc.MsNoSuid),
        ["nodev"] = (false, Libc.MsNoDev),
        ["dev"] = (true, Libc.MsNoDev),
        ["noexec"] = (false, Libc.MsNoExec),
        ["exec"] = (true, Libc.MsNoExec),
        ["sync"] = (false, Libc.MsSynchronous),
        ["async"] = (true, Libc.MsSynchronous),
        ["dirsync"] = (false, Libc.MsDirSync),
        ["remount"] = (false, Libc.MsRemount),
        ["noatime"] = (false, Libc.MsNoAtime),
        ["atime"] = (true, Libc.MsNoAtime),
        ["nodiratime"] = (false, Libc.MsNoDirAtime),
        ["diratime"] = (true, Libc.MsNoDirAtime),
        ["relatime"] = (false, Libc.MsRelatime),
        ["norelatime"] = (true, Libc.MsRelatime),
        ["strictatime"] = (false, Libc.MsStrictAtime),
        ["bind"] = (false, Libc.MsBind),
        ["rbind"] = (false, Libc.MsBind | Libc.MsRec),
        ["defaults"] = (true, 0),
    };

    private static readonly Dictionary<string, ulong> Propagations = new(StringComparer.Ordinal)
    {
        ["private"] = Libc.MsPrivate,
        ["rprivate"] = Libc.MsPrivate | Libc.MsRec,
        ["slave"] = Libc.MsSlave,
        ["rslave"] = Libc.MsSlave | Libc.MsRec,
        ["shared"] = Libc.MsShared,
        ["rshared"] = Libc.MsShared | Libc.MsRec,
    };

    public bool IsBind => (Flags & Libc.MsBind) != 0;

    public bool IsReadOnly => (Flags & Libc.MsReadOnly) != 0;

    public static MountOptions Parse(IEnumerable<string> options)
    {
        ulong flags = 0, propagation = 0;
        var data = new List<string>();
        foreach (var raw in options)
        {
            foreach (var option in raw.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (Known.TryGetValue(option, out var known))
                {
                    flags = known.Clear ? flags & ~known.Flag : flags | known.Flag;
                }
                else if (Propagations.TryGetValue(option, out var p))
                {
                    propagation |= p;
                }
                else
                {
                    data.Add(option);
                }
            }
        }
        return new MountOptions(flags, propagation, string.Join(',', data));
    }
}
