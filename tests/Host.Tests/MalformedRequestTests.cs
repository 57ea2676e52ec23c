using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataWorkflows.Host.Tests.Harness;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Host.Tests;

/// <summary>
/// Requests that do not parse, and parsed requests with values out of range, are InvalidArgument naming what is
/// wrong; found by the API fuzzer (tests/Host.Fuzz.Tests), where they were Unknown or Internal.
/// </summary>
public sealed class MalformedRequestTests
{
    private static readonly Marshaller<byte[]> Bytes = Marshallers.Create(b => b, b => b);

    public static TheoryData<string, byte[], string> Unparsable => new()
    {
        // SandboxCall { sandbox_id = "fz" } cut after the length byte.
        { "truncated", [0x0a, 0x02, 0x66], "kataworkflows.v1.SandboxCall" },
        // sandbox_id = 0xFF: not UTF-8.
        { "invalid UTF-8", [0x0a, 0x01, 0xff], "kataworkflows.v1.SandboxCall" },
        // Field 1 with wire type 7, which does not exist.
        { "wire type 7", [0x0f, 0x01], "kataworkflows.v1.SandboxCall" },
    };

    [Theory]
    [MemberData(nameof(Unparsable))]
    public async Task A_sandbox_call_that_does_not_parse_is_InvalidArgument_naming_the_message(string what, byte[] request, string message)
    {
        await using var host = await TestHost.StartAsync();

        var status = await CallAsync(host, "kataworkflows.v1.Sandboxes", "CreateSandbox", request);

        Assert.True(status.StatusCode == StatusCode.InvalidArgument, $"{what}: {status}");
        Assert.StartsWith($"request: not a valid {message} message: ", status.Detail, StringComparison.Ordinal);
        await SandboxesErrorTests.AssertServingAsync(host);
    }

    [Fact]
    public async Task Sidecar_and_streaming_calls_that_do_not_parse_are_InvalidArgument_too()
    {
        await using var host = await TestHost.StartAsync();

        var unary = await CallAsync(host, "TaskHubSidecarService", "GetInstance", [0x0a, 0x01, 0xc3]);
        var streaming = await CallAsync(host, "TaskHubSidecarService", "StreamInstanceHistory", [0x0a, 0x05, 0x61], streaming: true);
        var watch = await CallAsync(host, "kataworkflows.v1.Sandboxes", "WatchRun", [0x0a, 0x80], streaming: true);

        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument, StatusCode.InvalidArgument), (unary.StatusCode, streaming.StatusCode, watch.StatusCode));
        Assert.Equal("request: not a valid GetInstanceRequest message: String is invalid UTF-8.", unary.Detail);
        Assert.StartsWith("request: not a valid StreamInstanceHistoryRequest message: ", streaming.Detail, StringComparison.Ordinal);
        Assert.StartsWith("request: not a valid kataworkflows.v1.WatchRunRequest message: ", watch.Detail, StringComparison.Ordinal);
        await SandboxesErrorTests.AssertServingAsync(host);
    }

    private static async Task<Status> CallAsync(TestHost host, string service, string name, byte[] request, bool streaming = false)
    {
        var invoker = host.Channel.CreateCallInvoker();
        var options = new CallOptions(cancellationToken: host.Token);
        try
        {
            if (streaming)
            {
                using var call = invoker.AsyncServerStreamingCall(new Method<byte[], byte[]>(MethodType.ServerStreaming, service, name, Bytes, Bytes), null, options, request);
                while (await call.ResponseStream.MoveNext(host.Token))
                {
                }
            }
            else
            {
                using var call = invoker.AsyncUnaryCall(new Method<byte[], byte[]>(MethodType.Unary, service, name, Bytes, Bytes), null, options, request);
                await call.ResponseAsync;
            }

            return Status.DefaultSuccess;
        }
        catch (RpcException ex)
        {
            return ex.Status;
        }
    }
}
