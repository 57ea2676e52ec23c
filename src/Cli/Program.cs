using KataWorkflows.Cli;

using var interrupt = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    // The first Ctrl+C stops waiting; the run itself goes on in the host.
    e.Cancel = true;
    interrupt.Cancel();
};

var app = new KwfApp(Console.Out, Console.Error, Console.In, Environment.GetEnvironmentVariable);
return await app.RunAsync(args, interrupt.Token).ConfigureAwait(false);
