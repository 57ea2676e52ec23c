using System.Text;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// Command lines for kwf with one bad argument each: bad ids in every id position, bad numbers, durations, signals,
/// routes, annotations and statuses, unknown options and commands, and config files that are broken, wrong-typed,
/// deep, not UTF-8, huge, missing or a directory. Each case says which words the error must name.
/// </summary>
internal sealed class CliCases
{
    private static readonly string[] Mock =
        ["--hypervisor", "mock", "--agent", "noop", "--kernel", "/usr/share/kata/vmlinuz", "--image", "/usr/share/kata/kata.img", "--interworking-model", "none"];

    private static readonly string[] Numbers = ["-1", "0", "abc", "1e9", "NaN", "0x10", "", "99999999999999999999", "2147483648", "-9223372036854775809", "1.5", " 1"];

    private static readonly string[] Durations = ["xyz", "-5s", "0", "99999999999h", "", "1d2h", "s", "10675199.02:48:05.4775808"];

    // Linux refuses a single argument over 128 KiB (MAX_ARG_STRLEN) before kwf starts: longer ones go in files.
    private const int MaxArgument = 100_000;

    private readonly Random _random;
    private readonly string _directory;
    private int _files;

    public CliCases(Random random, string directory)
    {
        _random = random;
        _directory = directory;
    }

    /// <summary>Every template once with a drawn value, then drawn ones up to <paramref name="count"/>.</summary>
    public List<CliCase> Make(int count)
    {
        var templates = Templates();
        var cases = templates.Select(t => t(this)).ToList();
        while (cases.Count < count)
        {
            cases.Add(templates[_random.Next(templates.Count)](this));
        }

        return cases;
    }

    private static List<Func<CliCases, CliCase>> Templates() =>
    [
        c => Value("bad-id", "sandbox", c.Id(), v => ["sandbox", "status", v], "id", "sandbox"),
        c => Value("bad-id", "sandbox", c.Id(), v => ["sandbox", "create", v, .. Mock], "id", "sandbox"),
        c => Value("bad-id", "sandbox", c.Id(), v => ["sandbox", "stop", v, "--force"], "id", "sandbox"),
        c => Value("bad-id", "container", c.Id(), v => ["container", "create", "fz-live", v, "--rootfs", "/r", "--arg", "/bin/sh"], "id", "container"),
        c => Value("bad-id", "container", c.Id(), v => ["container", "exec", "fz-live", v, "--", "/bin/true"], "id", "container"),
        c => Value("bad-id", "container", c.Id(), v => ["cleanup", "fz-live", v], "id", "container"),
        c => Value("bad-id", "instance", c.Id(), v => ["wf", "show", v], "id", "instance"),
        c => Value("bad-id", "instance", c.Id(), v => ["wf", "history", v], "id", "instance"),
        c => Value("bad-id", "instance", c.Id(), v => ["wf", "terminate", v, "--reason", "fz"], "id", "instance"),
        c => Value("bad-id", "device", c.Id(), v => ["device", "add", "fz-live", "--id", v, "--host-path", "/dev/null"], "id", "device"),
        c => Value("bad-signal", "--signal", c.Pick(["FOO", "-1", "999", "", "SIGFOO", "0", "KILL KILL"]), v => ["container", "kill", "fz-live", "c1", "--signal", v]),
        c => Value("bad-number", "--vcpus", c.Pick(Numbers), v => ["sandbox", "create", "fz-new-vcpus", .. Mock, "--vcpus", v], "vcpus"),
        c => Value("bad-number", "--memory-mib", c.Pick(Numbers), v => ["sandbox", "create", "fz-new-mem", .. Mock, "--memory-mib", v], "memory"),
        c => Value("bad-number", "--cpu-quota", c.Pick(Numbers), v => ["container", "update", "fz-live", "c1", "--cpu-quota", v], "cpu"),
        c => Value("bad-number", "--mtu", c.Pick(Numbers), v => ["network", "add-iface", "fz-live", "--name", "eth9", "--device", "tap9", "--mtu", v], "mtu"),
        c => Value("bad-number", "--major", c.Pick(Numbers), v => ["device", "add", "fz-live", "--id", "d1", "--host-path", "/dev/null", "--major", v], "major"),
        c => Value("bad-number", "--limit", c.Pick(Numbers), v => ["wf", "list", "--limit", v], "limit"),
        c => Value("bad-duration", "--timeout", c.Pick(Durations), v => ["sandbox", "status", "fz-live", "--timeout", v], "timeout"),
        c => Value("bad-duration", "--step-timeout", c.Pick(Durations), v => ["sandbox", "stop", "fz-live", "--step-timeout", v], "step-timeout"),
        c => Value("bad-time", "--since", c.Pick(["yesterday", "-1", "2026-13-45", "", "9999-12-31T23:59:60Z", "0001-01-01"]), v => ["wf", "list", "--since", v], "since"),
        c => Value("bad-status", "--status", c.Pick(["Bogus", "", "-1", "99", "running,completed", "Running"]), v => ["wf", "list", "--status", v], "status"),
        c => Value("bad-status", "--status", c.Pick(["Bogus", "", "Running", "Pending"]), v => ["wf", "purge", "--status", v], "status"),
        c => Value("bad-annotation", "--annotation", c.Pick(["noequals", "=v", "", "k=", "a=b=c", new string('k', 10_000) + "=v"]), v => ["sandbox", "create", "fz-new-ann", .. Mock, "--annotation", v], "annotation"),
        c => Value("bad-env", "--env", c.Pick(["noequals", "=v", "", "A\nB=1"]), v => ["container", "exec", "fz-live", "c1", "--env", v, "--", "/bin/true"], "env"),
        c => Value("bad-route", "--route", c.Pick(["", ",,,", "10.0.0.0/99", "default,via=", "x,scope=abc", "x,bogus=1", "1.2.3.4,dev=" + new string('d', 5000)]), v => ["network", "update-routes", "fz-live", "--route", v], "route"),
        c => Value("bad-ip", "--ip", c.Pick(["", "300.1.1.1/24", "10.0.0.1/99", "::::/1", "abc"]), v => ["network", "add-iface", "fz-live", "--name", "eth9", "--device", "tap9", "--ip", v], "ip"),
        c => Value("bad-type", "--type", c.Pick(["x", "", "block", "bb"]), v => ["device", "add", "fz-live", "--id", "d1", "--host-path", "/dev/null", "--type", v], "type"),
        c => Value("bad-request-id", "--request-id", c.Pick(["a/b", "", "../x", new string('r', 65), "a b", "\u0001"]), v => ["sandbox", "stop", "fz-live", "--request-id", v], "request"),
        c => Value("bad-json", "--data", c.Pick(Inputs.BadJson.Where(j => !j.Contains('\0', StringComparison.Ordinal) && j.Length < MaxArgument).ToArray()), v => ["wf", "raise", "fz-no-run", "go", "--data", v], "data"),
        c => Value("unknown-option", "--fz-bogus", c.Id(), v => ["sandbox", "list", "--fz-bogus", v], "fz-bogus"),
        c => Value("unknown-command", "command", c.Pick(["fz-bogus", "", "--", "-", "lst", "STATUS"]), v => ["sandbox", v], "sandbox"),
        c => new CliCase("missing-argument", ["container", "start", "fz-live"], ["container", "argument", "required"]),
        c => new CliCase("missing-argument", ["wf", "raise"], ["instance", "argument", "required"]),
        c => Value("bad-output", "-o", c.Pick(["/nonexistent-fz/x.json", "/", "/proc/fz/x", ""]), v => ["wf", "export", "fz-no-run", "-o", v], "o", "output", "fz-no-run"),
        c => c.File("config", f => ["sandbox", "create", "fz-cfg", "--config", f]),
        c => c.File("config", f => ["container", "create", "fz-live", "--config", f]),
        c => c.File("config", f => ["network", "add-iface", "fz-live", "--config", f]),
        c => c.File("config", f => ["device", "add", "fz-live", "--config", f]),
        c => c.File("config", f => ["container", "update", "fz-live", "c1", "--config", f]),
        c => c.File("config", f => ["network", "update-routes", "fz-live", "--config", f]),
        c => c.File("replay", f => ["wf", "replay", f]),
    ];

    private static CliCase Value(string kind, string option, string value, Func<string, string[]> args, params string[] names) =>
        new(kind, args(value), [option.TrimStart('-'), .. names, .. Quoted(value)]);

    /// <summary>The words of a value an error may quote (cut, as the host and kwf cut long values).</summary>
    private static IEnumerable<string> Quoted(string value) =>
        value.Length >= 2 && value.All(c => !char.IsControl(c)) ? [value.Length > 20 ? value[..20] : value] : [];

    private string Id() => _random.Next(6) == 0
        ? Pick(["fz-live", "c1", "fz-nope"])
        : Pick(Inputs.BadIds.Where(id => !id.Contains('\0', StringComparison.Ordinal)).ToArray());

    private string Pick(string[] values) => values[_random.Next(values.Length)];

    /// <summary>A config file (or a path that is none): broken, wrong-typed, deep, not UTF-8, huge, missing, a directory.</summary>
    private CliCase File(string kind, Func<string, string[]> args)
    {
        var path = Path.Combine(_directory, $"fz-{_files++}.json");
        string what;
        switch (_random.Next(9))
        {
            case 0:
                what = "broken JSON";
                System.IO.File.WriteAllText(path, Pick(Inputs.BadJson));
                break;
            case 1:
                what = "invalid UTF-8";
                System.IO.File.WriteAllBytes(path, [(byte)'{', (byte)'"', (byte)'i', (byte)'d', (byte)'"', (byte)':', (byte)'"', 0xff, 0xfe, (byte)'"', (byte)'}']);
                break;
            case 2:
                what = "wrong-typed";
                System.IO.File.WriteAllText(path, WrongTyped());
                break;
            case 3:
                what = "deep";
                System.IO.File.WriteAllText(path, new string('[', 10_000) + new string(']', 10_000));
                break;
            case 4:
                what = "huge";
                System.IO.File.WriteAllText(path, "{\"id\":\"" + new string('x', MessageFuzzer.OversizedBytes) + "\"}");
                break;
            case 5:
                what = "missing";
                path = Path.Combine(_directory, "fz-missing", "x.json");
                break;
            case 6:
                what = "a directory";
                path = _directory;
                break;
            case 7:
                what = "unknown field";
                System.IO.File.WriteAllText(path, "{\"id\":\"fz-cfg\",\"fzUnknownField\":1}");
                break;
            default:
                what = "empty";
                System.IO.File.WriteAllText(path, string.Empty);
                break;
        }

        // The error names the option or the file, or (for a file that reads but holds a bad value) the field in it.
        return new CliCase($"{kind} ({what})", args(path), ["config", Path.GetFileName(path), path, "json", "replay", "history", ".id:", "id:"]);
    }

    /// <summary>One of the sandbox-call argument shapes with wrong types in it: the config part of <see cref="Inputs.Arguments"/>.</summary>
    private string WrongTyped()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(Inputs.Arguments(_random))!;
        var pick = _random.Next(3) switch
        {
            0 => node["config"],
            1 => node["container"],
            _ => node,
        };
        return pick?.ToJsonString() ?? "null";
    }
}

/// <summary>One kwf command line: what is bad in it, and the words its error must name (any one of them).</summary>
internal sealed record CliCase(string Kind, string[] Args, string[] Names)
{
    public override string ToString() => new StringBuilder(Kind).Append(": ").AppendJoin(' ', Args.Select(a => a.Length > 60 ? a[..60] + "…" : a)).ToString();
}
