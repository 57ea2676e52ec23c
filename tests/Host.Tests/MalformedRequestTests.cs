using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;
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

        var (status, trailers) = await CallWithTrailersAsync(host, "kataworkflows.v1.Sandboxes", "CreateSandbox", request);

        Assert.True(status.StatusCode == StatusCode.InvalidArgument, $"{what}: {status}");
        Assert.StartsWith($"request: not a valid {message} message: ", status.Detail, StringComparison.Ordinal);
        var failure = CallFailure.Parser.ParseFrom(trailers.GetValueBytes("kwf-failure-bin"));
        Assert.Equal(("InvalidArgument", status.Detail), (failure.Kind, failure.Message));
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

    [Fact]
    public async Task Every_error_of_WatchRun_carries_the_failure_trailer()
    {
        await using var host = await TestHost.StartAsync();

        var empty = await Assert.ThrowsAsync<RpcException>(async () => await Drain(host.Sandboxes.WatchRun(new WatchRunRequest(), cancellationToken: host.Token)));
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await Drain(host.Sandboxes.WatchRun(new WatchRunRequest { InstanceId = "nope" }, cancellationToken: host.Token)));

        Assert.Equal((StatusCode.InvalidArgument, "InvalidArgument", "instance_id: must not be empty"), (empty.StatusCode, Requests.Failure(empty).Kind, Requests.Failure(empty).Message));
        Assert.Equal((StatusCode.NotFound, "NotFound"), (missing.StatusCode, Requests.Failure(missing).Kind));
        Assert.Contains("nope", Requests.Failure(missing).Message, StringComparison.Ordinal);

        static async Task Drain(AsyncServerStreamingCall<RunEvent> call)
        {
            using (call)
            {
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                }
            }
        }
    }

    [Fact]
    public async Task A_differing_sandbox_id_of_10000_characters_is_quoted_cut_not_whole()
    {
        await using var host = await TestHost.StartAsync();
        var id = new string('x', 10_000);

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.StartSandboxAsync(
            new SandboxCall { SandboxId = "sb1", ArgumentsJson = $"{{\"sandboxId\":\"{id}\"}}" }, cancellationToken: host.Token));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.Equal($"arguments_json.sandboxId: '{id[..40]}…' differs from sandbox_id 'sb1'", ex.Status.Detail);
    }

    [Fact]
    public async Task A_group_left_open_is_InvalidArgument_not_Unknown()
    {
        await using var host = await TestHost.StartAsync();

        // QueryEntitiesRequest { query { ... } } whose query ends inside field 6, a start-group tag it never closes.
        var status = await CallAsync(host, "TaskHubSidecarService", "QueryEntities", Convert.FromHexString("0A081200280232103200"));

        Assert.Equal(StatusCode.InvalidArgument, status.StatusCode);
        Assert.StartsWith("request: not a valid QueryEntitiesRequest message: ", status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_huge_id_is_not_sent_back_whole_and_a_page_over_1000_names_maxInstanceCount()
    {
        await using var host = await TestHost.StartAsync();
        var id = new string('a', 10_000);

        var terminate = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.TerminateInstanceAsync(
            new TerminateRequest { InstanceId = id }, cancellationToken: host.Token));
        var entity = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.GetEntityAsync(
            new GetEntityRequest { InstanceId = "@" + id }, cancellationToken: host.Token));
        var page = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.QueryInstancesAsync(
            new QueryInstancesRequest { Query = new InstanceQuery { MaxInstanceCount = 1001 } }, cancellationToken: host.Token));

        Assert.Equal((StatusCode.NotFound, $"No instance with id '{id[..40]}…' exists."), (terminate.StatusCode, terminate.Status.Detail));
        Assert.Equal(StatusCode.InvalidArgument, entity.StatusCode);
        Assert.StartsWith("instanceId: ", entity.Status.Detail, StringComparison.Ordinal);
        Assert.InRange(entity.Status.Detail.Length, 1, 1100);
        Assert.Equal((StatusCode.InvalidArgument, "query.maxInstanceCount: must be between 0 and 1000, got 1001"), (page.StatusCode, page.Status.Detail));
    }

    [Fact]
    public async Task A_time_outside_what_a_timestamp_can_hold_is_InvalidArgument_naming_the_field()
    {
        await using var host = await TestHost.StartAsync();
        var api = host.Sidecar;

        var query = await Assert.ThrowsAsync<RpcException>(async () => await api.QueryInstancesAsync(
            new QueryInstancesRequest { Query = new InstanceQuery { CreatedTimeFrom = new Timestamp { Seconds = long.MaxValue } } }, cancellationToken: host.Token));
        var list = await Assert.ThrowsAsync<RpcException>(async () => await api.ListInstanceIdsAsync(
            new ListInstanceIdsRequest { CompletedTimeTo = new Timestamp { Nanos = -1 } }, cancellationToken: host.Token));
        var start = await Assert.ThrowsAsync<RpcException>(async () => await api.StartInstanceAsync(
            new CreateInstanceRequest { Name = "CreateSandbox", ScheduledStartTimestamp = new Timestamp { Seconds = -62135596801 } }, cancellationToken: host.Token));
        var entities = await Assert.ThrowsAsync<RpcException>(async () => await api.QueryEntitiesAsync(
            new QueryEntitiesRequest { Query = new EntityQuery { PageSize = 10, LastModifiedFrom = new Timestamp { Nanos = 1_000_000_000 } } }, cancellationToken: host.Token));

        Assert.All([query, list, start, entities], e => Assert.Equal(StatusCode.InvalidArgument, e.StatusCode));
        Assert.StartsWith("query.createdTimeFrom: is not a valid time (seconds 9223372036854775807, nanos 0)", query.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("completedTimeTo: is not a valid time", list.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("scheduledStartTimestamp: is not a valid time", start.Status.Detail, StringComparison.Ordinal);
        Assert.StartsWith("query.lastModifiedFrom: is not a valid time", entities.Status.Detail, StringComparison.Ordinal);
        Assert.Empty((await api.QueryInstancesAsync(new QueryInstancesRequest { Query = new InstanceQuery() }, cancellationToken: host.Token)).OrchestrationState);
    }

    [Fact]
    public async Task A_continuation_token_no_page_returned_is_InvalidArgument_naming_the_field()
    {
        await using var host = await TestHost.StartAsync();

        var query = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.QueryInstancesAsync(
            new QueryInstancesRequest { Query = new InstanceQuery { ContinuationToken = "not-a-token" } }, cancellationToken: host.Token));
        var list = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.ListInstanceIdsAsync(
            new ListInstanceIdsRequest { LastInstanceKey = "%%%" }, cancellationToken: host.Token));

        Assert.Equal((StatusCode.InvalidArgument, "query.continuationToken: is not a token returned by a previous page of this query"), (query.StatusCode, query.Status.Detail));
        Assert.Equal((StatusCode.InvalidArgument, "lastInstanceKey: is not a token returned by a previous page of this query"), (list.StatusCode, list.Status.Detail));
    }

    [Fact]
    public async Task An_argument_error_names_its_parameter_first_without_the_dotnet_suffix()
    {
        await using var host = await TestHost.StartAsync();
        await host.Sandboxes.CreateSandboxAsync(Requests.Create("sb1"), cancellationToken: host.Token);

        var raise = await Assert.ThrowsAsync<RpcException>(async () => await host.Sidecar.RaiseEventAsync(
            new RaiseEventRequest { InstanceId = "@sandbox@sb1", Name = "go" }, cancellationToken: host.Token));

        Assert.Equal(StatusCode.InvalidArgument, raise.StatusCode);
        Assert.Equal("instanceId: '@sandbox@sb1' is an entity; signal it instead of sending it orchestration messages.", raise.Status.Detail);
    }

    private static async Task<Status> CallAsync(TestHost host, string service, string name, byte[] request, bool streaming = false) =>
        (await CallWithTrailersAsync(host, service, name, request, streaming)).Status;

    private static async Task<(Status Status, Metadata Trailers)> CallWithTrailersAsync(TestHost host, string service, string name, byte[] request, bool streaming = false)
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

            return (Status.DefaultSuccess, []);
        }
        catch (RpcException ex)
        {
            return (ex.Status, ex.Trailers);
        }
    }
}
