using KataWorkflows.GuestAgent;
using KataWorkflows.GuestAgent.Launch;
using KataWorkflows.GuestAgent.Native;
using KataWorkflows.GuestAgent.Service;
using KataWorkflows.Protocol.Ttrpc;
using Microsoft.Extensions.Logging;

if (args.Length > 0 && args[0] is ContainerInit.InitMode or ContainerInit.ExecMode)
{
    return ContainerInit.Run(args);
}

if (args.Length != 2 || args[0] != "--channel")
{
    await Console.Error.WriteLineAsync("usage: kata-agent --channel /dev/vportNpM").ConfigureAwait(false);
    return 2;
}

var options = new AgentOptions { Channel = args[1] };
var logger = new ConsoleLogger(LogLevel.Information);
using var agent = new AgentService(options, logger);
var server = new TtrpcServer();
await using var serverScope = server.ConfigureAwait(false);
AgentMethods.Register(server, agent);
Logs.Serving(logger, options.Channel, AgentService.AgentVersion);

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
while (!stop.IsCancellationRequested)
{
    // A virtio-serial port reads end-of-file while the host side is not connected; the next connection is served
    // on the port opened again.
    var port = new FileStream(options.Channel, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0, useAsync: false);
    try
    {
        await Task.Factory.StartNew(() => SerialPort.WaitForHost(port.SafeFileHandle, stop.Token), stop.Token,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        Logs.HostConnected(logger, options.Channel);
        await server.ServeConnectionAsync(port, stop.Token).ConfigureAwait(false);
        Logs.ChannelClosed(logger, options.Channel);
    }
    catch (TtrpcProtocolException error)
    {
        Logs.BadFrame(logger, options.Channel, error);
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
        break;
    }
    finally
    {
        await port.DisposeAsync().ConfigureAwait(false);
    }
}
return 0;
