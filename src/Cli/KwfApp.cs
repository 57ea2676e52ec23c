using System.CommandLine;
using System.Globalization;
using Grpc.Core;
using KataWorkflows.Cli.Commands;

namespace KataWorkflows.Cli;

/// <summary>
/// The <c>kwf</c> command tree and its runner: parses the command line, runs the chosen command and turns every
/// failure into one message on stderr and an exit code (<see cref="ExitCodes"/>).
/// </summary>
public sealed class KwfApp
{
    private readonly TextWriter _out;
    private readonly TextWriter _err;
    private readonly TextReader _in;

    /// <summary>Creates the app over the given streams and environment.</summary>
    public KwfApp(TextWriter output, TextWriter error, TextReader input, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(input);
        _out = output;
        _err = error;
        _in = input;
        Options = new GlobalOptions(environment);
        Root = BuildRoot();
    }

    /// <summary>The global options.</summary>
    public GlobalOptions Options { get; }

    /// <summary>The root command.</summary>
    public RootCommand Root { get; }

    /// <summary>Standard input, for <c>--config -</c>.</summary>
    internal TextReader In => _in;

    /// <summary>
    /// Parses the arguments (no side effects). Response files are off: an argument starting with <c>@</c> is an
    /// argument (an entity's instance id is <c>@sandbox@ID</c>), not a file of more arguments.
    /// </summary>
    public ParseResult Parse(IReadOnlyList<string> args) => Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });

    /// <summary>Runs the command line and returns the exit code.</summary>
    public async Task<int> RunAsync(IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var parse = Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is not System.CommandLine.Help.HelpAction)
        {
            foreach (var error in parse.Errors)
            {
                await _err.WriteLineAsync($"kwf: {error.Message}").ConfigureAwait(false);
            }

            await _err.WriteLineAsync($"Run '{CommandPath(parse)} --help' for usage.").ConfigureAwait(false);
            return ExitCodes.Usage;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = _out, Error = _err, EnableDefaultExceptionHandler = false }, cancellationToken)
            .ConfigureAwait(false);
    }

    /// <summary>Sets a command's action: runs <paramref name="body"/> with an <see cref="Invocation"/>, mapping failures to exit codes.</summary>
    internal void SetAction(Command command, Func<Invocation, Task<int>> body) =>
        command.SetAction((parse, cancellationToken) => ExecuteAsync(parse, body, cancellationToken));

    private async Task<int> ExecuteAsync(ParseResult parse, Func<Invocation, Task<int>> body, CancellationToken cancellationToken)
    {
        Invocation? invocation = null;
        try
        {
            invocation = new Invocation(parse, Options, _out, _err, cancellationToken);
            return await body(invocation).ConfigureAwait(false);
        }
        catch (CliException ex)
        {
            await _err.WriteLineAsync($"kwf: {ex.Message}").ConfigureAwait(false);
            return ex.ExitCode;
        }
        catch (Exception ex) when (IsCancellation(ex) && cancellationToken.IsCancellationRequested)
        {
            await _err.WriteLineAsync("kwf: interrupted; a run already started goes on in the host").ConfigureAwait(false);
            return ExitCodes.Cancelled;
        }
        catch (Exception ex) when (IsCancellation(ex) && invocation is { Timeout: { } timeout } && invocation.Token.IsCancellationRequested)
        {
            await _err.WriteLineAsync(string.Create(
                CultureInfo.InvariantCulture,
                $"kwf: timed out after {timeout.TotalSeconds:0.###}s; a run already started goes on in the host (see 'kwf wf list')")).ConfigureAwait(false);
            return ExitCodes.Timeout;
        }
        catch (RpcException ex)
        {
            await _err.WriteLineAsync($"kwf: {ErrorMapping.MessageFor(ex, invocation?.Target ?? "the host")}").ConfigureAwait(false);
            return ErrorMapping.ExitCodeFor(ex);
        }
        catch (IOException ex)
        {
            await _err.WriteLineAsync($"kwf: {ex.Message}").ConfigureAwait(false);
            return ExitCodes.Error;
        }
        finally
        {
            if (invocation is not null)
            {
                await invocation.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static bool IsCancellation(Exception ex) =>
        ex is OperationCanceledException || (ex is RpcException rpc && rpc.StatusCode is StatusCode.Cancelled or StatusCode.DeadlineExceeded);

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
        {
            names.Add(result.Command.Name);
        }

        names.Reverse();
        if (names.Count > 0)
        {
            names[0] = "kwf";
        }

        return string.Join(' ', names);
    }

    private RootCommand BuildRoot()
    {
        var codes = string.Join("; ", ExitCodes.All.Select(c => $"{c.Code} {c.Meaning}"));
        var root = new RootCommand($"kwf: the Kata Workflows client. Exit codes: {codes}.");
        foreach (var option in Options.All)
        {
            root.Options.Add(option);
        }

        root.Subcommands.Add(SandboxCommands.Sandbox(this));
        root.Subcommands.Add(SandboxCommands.Container(this));
        root.Subcommands.Add(SandboxCommands.Network(this));
        root.Subcommands.Add(SandboxCommands.Device(this));
        root.Subcommands.Add(SandboxCommands.Cleanup(this));
        root.Subcommands.Add(WorkflowCommands.Workflow(this));
        return root;
    }
}
