using Google.Protobuf;
using Grpc.Core;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.Activities.Agents.Kata;

/// <summary>
/// The agent calls Kata's runtime makes that <see cref="IAgent"/> does not carry (kata_agent.go's
/// <c>getAgentVersion</c>, <c>writeProcessStdin</c>, <c>readProcessStdout</c>, <c>readProcessStderr</c>,
/// <c>closeProcessStdin</c>, <c>onlineCPUMem</c>, <c>setGuestDateTime</c>, <c>copyFile</c>), each with the 60 s
/// request timeout.
/// </summary>
public sealed partial class KataAgent
{
    /// <summary>Kata's <c>grpcMaxDataSize</c>: the most file data one CopyFile request carries (1 MiB).</summary>
    public const int CopyFileChunkSize = 1 << 20;

    /// <summary>Kata's default <c>DirMode</c> for the directories CopyFile creates (0750).</summary>
    public const uint CopyFileDirectoryMode = 0b111_101_000;

    /// <summary>The agent's protocol and own version (<c>grpc.Health/Version</c>).</summary>
    public Task<VersionCheckResponse> VersionAsync(string sandboxId, CancellationToken cancellationToken) =>
        CallAsync(sandboxId, HealthService, "Version", new CheckRequest(), VersionCheckResponse.Parser, _options.RequestTimeout, cancellationToken);

    /// <summary>Writes to a process's stdin (<c>WriteStdin</c>) and returns how many bytes the agent took.</summary>
    public async Task<int> WriteStdinAsync(string sandboxId, string containerId, string execId, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var request = new WriteStreamRequest { ContainerId = containerId, ExecId = ExecIdOf(containerId, execId), Data = ByteString.CopyFrom(data.Span) };
        var response = await CallAsync(sandboxId, AgentService, "WriteStdin", request, WriteStreamResponse.Parser, _options.RequestTimeout, cancellationToken)
            .ConfigureAwait(false);
        return (int)Math.Min(response.Len, int.MaxValue);
    }

    /// <summary>Closes a process's stdin (<c>CloseStdin</c>).</summary>
    public Task CloseStdinAsync(string sandboxId, string containerId, string execId, CancellationToken cancellationToken) =>
        CallAsync(
            sandboxId,
            AgentService,
            "CloseStdin",
            new CloseStdinRequest { ContainerId = containerId, ExecId = ExecIdOf(containerId, execId) },
            Empty,
            _options.RequestTimeout,
            cancellationToken);

    /// <summary>
    /// Reads up to <paramref name="maxBytes"/> of a process's stdout (<c>ReadStdout</c>); empty at the end of the
    /// stream, which the agent answers as gRPC's <c>io.EOF</c> (<see cref="StatusCode.Unknown"/> "EOF").
    /// </summary>
    public Task<byte[]> ReadStdoutAsync(string sandboxId, string containerId, string execId, int maxBytes, CancellationToken cancellationToken) =>
        ReadStreamAsync(sandboxId, "ReadStdout", containerId, execId, maxBytes, cancellationToken);

    /// <summary>Reads up to <paramref name="maxBytes"/> of a process's stderr (<c>ReadStderr</c>); empty at the end of the stream.</summary>
    public Task<byte[]> ReadStderrAsync(string sandboxId, string containerId, string execId, int maxBytes, CancellationToken cancellationToken) =>
        ReadStreamAsync(sandboxId, "ReadStderr", containerId, execId, maxBytes, cancellationToken);

    /// <summary>
    /// Brings offline CPUs (up to <paramref name="cpus"/>) and, unless <paramref name="cpuOnly"/>, memory blocks of the
    /// guest online after a hotplug (<c>OnlineCPUMem</c>, waiting for them, as Kata's runtime asks).
    /// </summary>
    public Task OnlineCpuMemAsync(string sandboxId, int cpus, bool cpuOnly, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(cpus);
        var request = new OnlineCPUMemRequest { Wait = true, NbCpus = (uint)cpus, CpuOnly = cpuOnly };
        return CallAsync(sandboxId, AgentService, "OnlineCPUMem", request, Empty, _options.RequestTimeout, cancellationToken);
    }

    /// <summary>Sets the guest's wall clock (<c>SetGuestDateTime</c>, seconds and microseconds since the epoch), as Kata does after a resume.</summary>
    public Task SetGuestDateTimeAsync(string sandboxId, DateTimeOffset time, CancellationToken cancellationToken)
    {
        var sinceEpoch = time.UtcDateTime - DateTime.UnixEpoch;
        var request = new SetGuestDateTimeRequest
        {
            Sec = (long)Math.Floor(sinceEpoch.TotalSeconds),
            Usec = (long)(sinceEpoch.Ticks % TimeSpan.TicksPerSecond / TimeSpan.TicksPerMicrosecond),
        };
        return CallAsync(sandboxId, AgentService, "SetGuestDateTime", request, Empty, _options.RequestTimeout, cancellationToken);
    }

    /// <summary>
    /// Copies a host file into the guest at <paramref name="guestPath"/> (<c>CopyFile</c>), as Kata's <c>copyFile</c>
    /// does: the file's mode, owner and size, its directories made with mode 0750, the data in parts of at most
    /// <see cref="CopyFileChunkSize"/> bytes (an empty file in one request with no data).
    /// </summary>
    public async Task CopyFileAsync(string sandboxId, string hostPath, string guestPath, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostPath);
        ArgumentException.ThrowIfNullOrEmpty(guestPath);
        var info = new FileInfo(hostPath);
        if (!info.Exists)
        {
            throw new FileNotFoundException($"CopyFile of sandbox '{sandboxId}': the host file {hostPath} does not exist.", hostPath);
        }

        var status = HostFileStatus.Of(hostPath);
        var request = new CopyFileRequest
        {
            Path = guestPath,
            FileSize = info.Length,
            FileMode = status.Mode,
            DirMode = CopyFileDirectoryMode,
            Uid = (int)status.Uid,
            Gid = (int)status.Gid,
        };
        var stream = new FileStream(hostPath, FileMode.Open, FileAccess.Read, FileShare.Read, CopyFileChunkSize, useAsync: true);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[(int)Math.Min(CopyFileChunkSize, Math.Max(1, info.Length))];
            var offset = 0L;
            do
            {
                var read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
                request.Offset = offset;
                request.Data = ByteString.CopyFrom(buffer, 0, read);
                await CallAsync(sandboxId, AgentService, "CopyFile", request, Empty, _options.RequestTimeout, cancellationToken).ConfigureAwait(false);
                offset += read;
            }
            while (offset < info.Length);
        }
    }

    /// <summary>
    /// Calls any <c>grpc.AgentService</c> method with a request built by the caller, on the sandbox's connection, with
    /// the 60 s request timeout and the driver's errors: for what the typed members do not send (a container's
    /// storages, another process-list format).
    /// </summary>
    public Task<TResponse> InvokeAsync<TResponse>(string sandboxId, string method, IMessage request, MessageParser<TResponse> responseParser, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        ArgumentException.ThrowIfNullOrEmpty(method);
        return CallAsync(sandboxId, AgentService, method, request, responseParser, _options.RequestTimeout, cancellationToken);
    }

    private async Task<byte[]> ReadStreamAsync(string sandboxId, string method, string containerId, string execId, int maxBytes, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBytes);
        var request = new ReadStreamRequest { ContainerId = containerId, ExecId = ExecIdOf(containerId, execId), Len = (uint)maxBytes };
        try
        {
            var response = await CallAsync(sandboxId, AgentService, method, request, ReadStreamResponse.Parser, _options.RequestTimeout, cancellationToken)
                .ConfigureAwait(false);
            return response.Data.ToByteArray();
        }
        catch (KataAgentException e) when (e is { StatusCode: StatusCode.Unknown, InnerException: TtrpcException { StatusMessage: "EOF" } })
        {
            return [];
        }
    }
}
