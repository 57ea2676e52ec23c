using System.Text;
using System.Text.Json.Nodes;

namespace KataWorkflows.Host.Fuzz.Tests.Harness;

/// <summary>
/// The bad values the fuzzer draws from: ids that are paths or carry control characters, empty and 10,000-character
/// strings, invalid UTF-8, numbers at and past their limits, deep and wrong-typed JSON. Strings are bytes, so a value
/// can be what no .NET string can hold.
/// </summary>
internal static class Inputs
{
    /// <summary>Sandboxes the fuzzer owns: calls may change them (the seeded ones are never named by a mutating call).</summary>
    public static readonly string[] FuzzSandboxes = ["fz-live", "fz-stopped", "fz-new"];

    public static readonly string[] BadIds =
    [
        "", "../etc", "/", "a/b", "..", ".", "./x", "/etc/passwd", "..\\..\\windows", "a\0b", "\0", "a\nb", "\r\n", "\t",
        "\u0001\u0002\u001f\u007f", "a b", " ", "-rf", "*", "?", "%2e%2e%2f", "@sandbox@x", "@", "@@", "a:b:c", ":",
        "'; DROP TABLE instances; --", "\u202eevil", "\u00e9t\u00e9", "\U0001F600", "\uFEFF", "CON", "nul", "-",
        new string('a', 128), new string('a', 129), new string('a', 10_000), new string('/', 300), "a" + new string('.', 127),
    ];

    /// <summary>Byte strings that are not UTF-8 at all: what a client outside .NET can send in a protobuf string field.</summary>
    public static readonly byte[][] InvalidUtf8 =
    [
        [0xff], [0xfe, 0xff], [0xc3], [0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80],
        [0x61, 0x62, 0xff, 0x63], [0x66, 0x7a, 0x2d, 0xc3, 0x28], [0x7b, 0x22, 0x61, 0x22, 0x3a, 0xff, 0x7d], [0xf8, 0x88, 0x80, 0x80, 0x80],
    ];

    public static readonly string[] Names =
    [
        "CreateSandbox", "RunSandbox", "SandboxEntity", "sandbox", "fz-orchestration", "Delete", "Set", "Get", "__proto__", "toString",
        "System.Object", "../x",
    ];

    public static readonly long[] Numbers =
    [
        0, 1, -1, 2, 3, 255, 256, 499, 500, 501, 1000, 1001, int.MaxValue, int.MinValue, (long)int.MaxValue + 1, long.MaxValue, long.MinValue,
        -253402300800, 253402300800, 315537897599, 315537897600, 999_999_999, 1_000_000_000, -1_000_000_000,
    ];

    public static readonly string[] BadJson =
    [
        "", " ", "null", "{", "[", "}", "{}", "[]", "1", "-1", "\"s\"", "true", "{\"a\":", "{'a':1}", "{\"a\":1,}", "[1,2,]", "{\"a\":1}{}",
        "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":1e400}", "{\"a\":-1e400}", "\"\\ud800\"", "{\"\\u0000\":1}", "/* c */ {}", "\u0000",
        "{\"a\":1,\"a\":2}", new string('[', 10_000) + new string(']', 10_000), string.Concat(Enumerable.Repeat("{\"a\":", 10_000)) + "1" + new string('}', 10_000),
        new string('[', 10_000), "\"" + new string('x', 10_000) + "\"", "1" + new string('0', 5_000), "[" + string.Join(',', Enumerable.Repeat("0", 100_000)) + "]",
    ];

    /// <summary>Argument fields of a sandbox call, with values of every wrong type.</summary>
    private static readonly string[] ArgumentFields =
        ["config", "containerId", "container", "force", "signal", "all", "cmd", "resources", "interface", "routes", "device", "stepTimeout", "sandboxId"];

    public static T Pick<T>(Random random, IReadOnlyList<T> values) => values[random.Next(values.Count)];

    /// <summary>A string value as bytes: an id, a name, JSON or anything, valid UTF-8 or not, depending on the field.</summary>
    public static byte[] StringFor(Random random, string field, IReadOnlyList<string> readableIds)
    {
        var roll = random.Next(100);
        // Rare here, so most messages parse and reach the service: one string field in ten messages or so is broken
        // (the invalid-utf8 input of every method breaks them all).
        if (roll < 2)
        {
            return Pick(random, InvalidUtf8);
        }

        if (roll < 4)
        {
            // Valid bytes with one broken in the middle: the field starts like something plausible.
            var plausible = Encoding.UTF8.GetBytes(Plausible(random, field, readableIds));
            var broken = new byte[plausible.Length + 1];
            var at = random.Next(broken.Length);
            plausible.AsSpan(0, at).CopyTo(broken);
            broken[at] = 0xff;
            plausible.AsSpan(at).CopyTo(broken.AsSpan(at + 1));
            return broken;
        }

        if (roll < 50)
        {
            return Encoding.UTF8.GetBytes(Plausible(random, field, readableIds));
        }

        return Encoding.UTF8.GetBytes(IsJson(field) ? Json(random, field) : Pick(random, random.Next(3) == 0 ? Names : BadIds));
    }

    public static bool IsJson(string field)
    {
        var name = field.Replace("_", string.Empty, StringComparison.Ordinal).ToUpperInvariant();
        return name.EndsWith("JSON", StringComparison.Ordinal) || name is "INPUT" or "OUTPUT" or "SERIALIZEDSTATE" or "CUSTOMSTATUS" or "DATA" or "RESULT";
    }

    /// <summary>A value that gets past the first checks, so the ones behind them are reached too.</summary>
    private static string Plausible(Random random, string field, IReadOnlyList<string> readableIds)
    {
        if (IsJson(field))
        {
            return field == "arguments_json" ? Arguments(random) : random.Next(2) == 0 ? "{\"fz\":1}" : "\"fz\"";
        }

        if (field.EndsWith("id", StringComparison.OrdinalIgnoreCase) || field.Contains("instance", StringComparison.OrdinalIgnoreCase))
        {
            return random.Next(5) switch
            {
                0 when readableIds.Count > 0 => Pick(random, readableIds),
                1 => "@sandbox@" + Pick(random, FuzzSandboxes),
                2 => "c1",
                _ => Pick(random, FuzzSandboxes),
            };
        }

        return field is "name" or "operation" or "event_name" ? Pick(random, Names) : "fz";
    }

    /// <summary>JSON for a JSON field: broken, deep, huge or well-formed with wrong types.</summary>
    public static string Json(Random random, string field) =>
        random.Next(3) == 0 || field != "arguments_json" ? Pick(random, BadJson) : Arguments(random);

    /// <summary>The arguments of a sandbox call: a valid configuration with one to three fields replaced by wrong values.</summary>
    public static string Arguments(Random random)
    {
        var id = Pick(random, FuzzSandboxes);
        var root = new JsonObject
        {
            ["config"] = new JsonObject
            {
                ["id"] = id,
                ["hypervisorType"] = "mock",
                ["agentType"] = "noop",
                ["hypervisorConfig"] = new JsonObject { ["kernelPath"] = "/usr/share/kata/vmlinuz", ["imagePath"] = "/usr/share/kata/kata.img" },
                ["networkConfig"] = new JsonObject { ["interworkingModel"] = "none" },
                ["containers"] = new JsonArray(Container("c1")),
            },
            ["containerId"] = "c1",
            ["container"] = Container("c2"),
        };
        var mutations = random.Next(1, 4);
        for (var i = 0; i < mutations; i++)
        {
            Mutate(random, root);
        }

        return root.ToJsonString();
    }

    private static JsonObject Container(string id) => new()
    {
        ["id"] = id,
        ["rootFs"] = $"/run/rootfs/{id}",
        ["cmd"] = new JsonObject { ["args"] = new JsonArray("/bin/sh") },
    };

    /// <summary>Replaces one value somewhere in the tree (or adds a field) with a wrong one.</summary>
    private static void Mutate(Random random, JsonObject root)
    {
        JsonObject target = root;
        var key = Pick(random, ArgumentFields);
        // Half the time go one or two levels down and break a nested field instead.
        for (var depth = random.Next(3); depth > 0 && target[key] is JsonObject child && child.Count > 0; depth--)
        {
            target = child;
            key = child.ElementAt(random.Next(child.Count)).Key;
        }

        if (target[key] is JsonArray { Count: > 0 } array && random.Next(2) == 0 && array[0] is JsonObject first && first.Count > 0)
        {
            target = first;
            key = first.ElementAt(random.Next(first.Count)).Key;
        }

        target[key] = WrongValue(random);
        if (random.Next(6) == 0)
        {
            target["fzUnknownField" + random.Next(10)] = 1;
        }
    }

    private static JsonNode? WrongValue(Random random) => random.Next(16) switch
    {
        0 => null,
        1 => JsonValue.Create(Pick(random, Numbers)),
        2 => JsonValue.Create(-1),
        3 => JsonValue.Create(1e308),
        4 => JsonValue.Create(Pick(random, BadIds)),
        5 => JsonValue.Create(""),
        6 => new JsonArray(),
        7 => new JsonObject(),
        8 => JsonValue.Create(true),
        9 => new JsonArray([.. Enumerable.Range(0, 20_000).Select(i => (JsonNode?)JsonValue.Create($"r{i}"))]),
        10 => JsonValue.Create(new string('x', 10_000)),
        11 => JsonNode.Parse(new string('[', 60) + new string(']', 60)),
        12 => JsonValue.Create("-00:00:01"),
        13 => JsonValue.Create("10675199.02:48:05.4775807"),
        14 => JsonValue.Create(Pick(random, Names)),
        _ => JsonValue.Create(random.NextDouble() * -1e12),
    };
}
