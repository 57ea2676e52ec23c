using System.Diagnostics;
using System.Text;

namespace KataWorkflows.Cli.Tests.Harness;

/// <summary>Runs the built kwf binary as a child process, the way a person or a script would.</summary>
internal static class KwfProcess
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(2);

    public static Task<KwfResult> RunAsync(string socket, params string[] args) => RunWithAsync(socket, null, null, args);

    /// <summary>
    /// Runs kwf with KWF_SOCKET set; <paramref name="onLine"/> sees stdout lines as they come (to act while a run is in
    /// progress). A kwf still running after two minutes is killed and the test fails.
    /// </summary>
    public static async Task<KwfResult> RunWithAsync(string socket, string? stdin, Action<string>? onLine, params string[] args)
    {
        var start = new ProcessStartInfo(Artifacts.Dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(Artifacts.Kwf);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["KWF_SOCKET"] = socket;
        start.Environment.Remove("KWF_ADDRESS");
        using var process = new Process { StartInfo = start };
        var output = new StringBuilder();
        var error = new StringBuilder();
        var outputDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errorDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                outputDone.TrySetResult();
                return;
            }

            lock (output)
            {
                output.Append(e.Data).Append('\n');
            }

            onLine?.Invoke(e.Data);
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                errorDone.TrySetResult();
                return;
            }

            lock (error)
            {
                error.Append(e.Data).Append('\n');
            }
        };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        limit.CancelAfter(Limit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
            await Task.WhenAll(outputDone.Task, errorDone.Task).WaitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"kwf {string.Join(' ', args)} did not finish within {Limit}\nstdout:\n{output}\nstderr:\n{error}");
        }

        lock (output)
        {
            return new KwfResult(args, process.ExitCode, output.ToString(), error.ToString());
        }
    }
}
