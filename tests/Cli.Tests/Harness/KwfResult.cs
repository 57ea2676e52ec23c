using System.Text.Json.Nodes;

namespace KataWorkflows.Cli.Tests.Harness;

/// <summary>What one run of the kwf binary did.</summary>
internal sealed record KwfResult(string[] Args, int Exit, string Out, string Err)
{
    public JsonNode Json => JsonNode.Parse(Out) ?? throw new InvalidOperationException($"kwf printed null JSON\n{this}");

    public KwfResult Expect(int exit)
    {
        Assert.True(Exit == exit, $"expected exit {exit}\n{this}");
        return this;
    }

    public override string ToString() => $"kwf {string.Join(' ', Args)} -> exit {Exit}\nstdout:\n{Out}\nstderr:\n{Err}";
}
