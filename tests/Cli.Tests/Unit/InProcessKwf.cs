namespace KataWorkflows.Cli.Tests.Unit;

/// <summary>Runs the kwf command tree in this process over string writers, with a given environment and stdin.</summary>
internal static class InProcessKwf
{
    public static async Task<(int Exit, string Out, string Err)> RunAsync(string[] args, IReadOnlyDictionary<string, string>? env = null, string stdin = "")
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        using var input = new StringReader(stdin);
        var app = new KwfApp(output, error, input, name => env is not null && env.TryGetValue(name, out var v) ? v : null);
        var exit = await app.RunAsync(args, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }

    public static KwfApp App(IReadOnlyDictionary<string, string>? env = null) =>
        new(TextWriter.Null, TextWriter.Null, TextReader.Null, name => env is not null && env.TryGetValue(name, out var v) ? v : null);

    /// <summary>A socket path where nothing listens.</summary>
    public static string MissingSocket() => Path.Combine(Path.GetTempPath(), $"kwf-missing-{Guid.NewGuid():N}.sock");
}
