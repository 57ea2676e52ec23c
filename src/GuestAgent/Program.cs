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
// The port stays open between host connections: closing and opening it again discards what the host already sent,
// and a host that dials again at once (the driver after DestroySandbox, after a dropped connection) would wait for an
// answer to a request that was thrown away. Each connection is served on a duplicate of the descriptor, which the
// server closes at its end; only a bad frame reopens the port, to drop what is left of the broken stream.
FileStream? port = null;
while (!stop.IsCancellationRequested)
{
    port ??= new FileStream(options.Channel, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 0, useAsync: false);
    try
    {
        await Task.Factory.StartNew(() => SerialPort.WaitForHost(port.SafeFileHandle, stop.Token), stop.Token,
            TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        Logs.HostConnected(logger, options.Channel);
        var duplicate = Libc.Dup((int)port.SafeFileHandle.DangerousGetHandle());
        if (duplicate < 0)
        {
            throw new System.ComponentModel.Win32Exception(System.Runtime.InteropServices.Marshal.GetLastPInvokeError(), $"dup {options.Channel}");
        }
        var connection = new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(duplicate, ownsHandle: true), FileAccess.ReadWrite, 0, isAsync: false);
        await server.ServeConnectionAsync(connection, stop.Token).ConfigureAwait(false);
        Logs.ChannelClosed(logger, options.Channel);
    }
    catch (TtrpcProtocolException error)
    {
        Logs.BadFrame(logger, options.Channel, error);
        await port.DisposeAsync().ConfigureAwait(false);
        port = null;
    }
    catch (OperationCanceledException) when (stop.IsCancellationRequested)
    {
        break;
    }
}
if (port is not null)
{
    await port.DisposeAsync().ConfigureAwait(false);
}
return 0;
