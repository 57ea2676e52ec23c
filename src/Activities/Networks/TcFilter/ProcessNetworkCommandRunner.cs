using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// Runs commands as child processes from an argument list (no shell, so no value can add an option or a command),
/// with a timeout after which the process is killed. Output is bounded: iproute2's answers are small, and a
/// command that writes more is cut rather than allowed to fill the host's memory.
/// </summary>
internal sealed class ProcessNetworkCommandRunner(TimeSpan timeout) : INetworkCommandRunner
{
    private const int MaxOutputChars = 4 * 1024 * 1024;
    private const int MaxErrorChars = 4096;

    public async Task<string> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var command = Describe(program, arguments);
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        // A stable language keeps iproute2's messages the same whatever the host's locale.
        info.Environment["LC_ALL"] = "C";
        using var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException)
        {
            throw new NetworkCommandException(command, -1, string.Empty, $"`{command}` could not be started: {ex.Message}", ex);
        }

        process.StandardInput.Close();
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(timeout);
        var stdout = ReadBoundedAsync(process.StandardOutput, MaxOutputChars, timer.Token);
        var stderr = ReadBoundedAsync(process.StandardError, MaxErrorChars, timer.Token);
        try
        {
            await process.WaitForExitAsync(timer.Token).ConfigureAwait(false);
            await Task.WhenAll(stdout, stderr).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Kill(process);
            cancellationToken.ThrowIfCancellationRequested();
            throw new NetworkCommandException(command, -1, string.Empty, $"`{command}` did not finish within {timeout.TotalSeconds:0.#} s and was killed");
        }

        var error = (await stderr.ConfigureAwait(false)).Trim();
        if (process.ExitCode != 0)
        {
            var shown = error.Length == 0 ? "(nothing on stderr)" : error;
            throw new NetworkCommandException(command, process.ExitCode, error, $"`{command}` failed with exit code {process.ExitCode}: {shown}");
        }

        return await stdout.ConfigureAwait(false);
    }

    /// <summary>The command line as a person would type it (for messages only; it is never run through a shell).</summary>
    public static string Describe(string program, IReadOnlyList<string> arguments) =>
        arguments.Count == 0 ? program : program + " " + string.Join(' ', arguments);

    private static async Task<string> ReadBoundedAsync(StreamReader reader, int limit, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
        {
            // Past the limit the rest is read and dropped, so the child never blocks on a full pipe.
            var keep = Math.Min(read, limit - text.Length);
            if (keep > 0)
            {
                text.Append(buffer, 0, keep);
            }
        }

        return text.ToString();
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It exited in the meantime.
        }
    }
}
