using Grpc.Core;
using Grpc.Health.V1;
using KataWorkflows.Host.Tests.Harness;
using KataWorkflows.Protocol.V1;
using static KataWorkflows.Host.Tests.Harness.Requests;

namespace KataWorkflows.Host.Tests;

/// <summary>Bad input and failed calls map to status codes that name what is wrong, and the host keeps serving.</summary>
public sealed class SandboxesErrorTests
{
    public static TheoryData<string, string> BadIds => new()
    {
        { "../etc", "sandboxId" },
        { string.Empty, "sandboxId" },
        { new string('a', 200), "sandboxId" },
        { "sb/../../x", "sandboxId" },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task A_bad_sandbox_id_is_InvalidArgument_naming_the_field_and_the_host_keeps_serving(string id, string field)
    {
        await using var host = await TestHost.StartAsync();

        var start = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.StartSandboxAsync(Call(id), cancellationToken: host.Token));
        var create = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(Create(id), cancellationToken: host.Token));
        var status = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.StatusSandboxAsync(new SandboxRef { SandboxId = id }, cancellationToken: host.Token));

        Assert.Equal((StatusCode.InvalidArgument, StatusCode.InvalidArgument, StatusCode.InvalidArgument), (start.StatusCode, create.StatusCode, status.StatusCode));
        Assert.StartsWith(field + ":", start.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("id", create.Status.Detail, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(("InvalidArgument", ""), (Failure(start).Kind, Failure(start).InstanceId));
        await AssertServingAsync(host);
    }

    [Theory]
    [InlineData("{not json", "arguments_json: is not valid")]
    [InlineData("{\"config\": {\"id\": 5}}", "arguments_json: is not valid")]
    [InlineData("null", "arguments_json: must be a JSON object")]
    [InlineData("{\"sandboxId\": \"other\"}", "arguments_json.sandboxId:")]
    public async Task Malformed_arguments_are_InvalidArgument_naming_the_field(string json, string prefix)
    {
        await using var host = await TestHost.StartAsync();

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Sandboxes.CreateSandboxAsync(new SandboxCall { SandboxId = "sb1", ArgumentsJson = json, Wait = true }, cancellationToken: host.Token));

        Assert.Equal(StatusCode.InvalidArgument, ex.StatusCode);
        Assert.StartsWith(prefix, ex.Status.Detail, StringComparison.Ordinal);
        await AssertServingAsync(host);
    }

    [Fact]
    public async Task An_invalid_config_and_a_bad_request_id_are_InvalidArgument()
    {
        await using var host = await TestHost.StartAsync();

        var noHypervisor = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(
            Call("sb1", new { config = new { id = "sb1", agentType = "noop" } }), cancellationToken: host.Token));
        var requestId = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(
            Call("sb1", new { config = Config("sb1") }, requestId: "bad id!"), cancellationToken: host.Token));

        Assert.Equal(StatusCode.InvalidArgument, noHypervisor.StatusCode);
        Assert.Equal(StatusCode.InvalidArgument, requestId.StatusCode);
        Assert.StartsWith("requestId", requestId.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_existing_and_wrong_state_map_to_NotFound_AlreadyExists_and_FailedPrecondition()
    {
        await using var host = await TestHost.StartAsync();
        await host.Sandboxes.CreateSandboxAsync(Create("sb1", "c1"), cancellationToken: host.Token);

        var missing = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.StartSandboxAsync(Call("nope"), cancellationToken: host.Token));
        var twice = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(Create("sb1"), cancellationToken: host.Token));
        var pause = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.PauseSandboxAsync(Call("sb1"), cancellationToken: host.Token));
        var noContainer = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Sandboxes.StatusContainerAsync(new SandboxRef { SandboxId = "sb1", ContainerId = "zz" }, cancellationToken: host.Token));

        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(StatusCode.AlreadyExists, twice.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, pause.StatusCode);
        Assert.False(string.IsNullOrEmpty(pause.Status.Detail));
        Assert.Equal(("FailedPrecondition", true), (Failure(pause).Kind, Failure(pause).InstanceId.StartsWith("PauseSandbox:sb1:", StringComparison.Ordinal)));
        Assert.Equal((StatusCode.NotFound, "Container does not exist: zz"), (noContainer.StatusCode, noContainer.Status.Detail));
        await AssertServingAsync(host);
    }

    [Fact]
    public async Task A_10_MB_request_is_ResourceExhausted_and_the_host_keeps_serving()
    {
        await using var host = await TestHost.StartAsync();
        var huge = Call("sb1", new { config = Config("sb1"), padding = new string('x', 10 * 1024 * 1024) });

        var ex = await Assert.ThrowsAsync<RpcException>(async () => await host.Sandboxes.CreateSandboxAsync(huge, cancellationToken: host.Token));

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        await AssertServingAsync(host);
        var ok = await host.Sandboxes.CreateSandboxAsync(Create("sb1"), cancellationToken: host.Token);
        Assert.Equal(("Completed", "Ready"), (ok.Status, SandboxState(ok)));
    }

    [Fact]
    public async Task The_request_limit_is_configurable()
    {
        await using var host = await TestHost.StartAsync("--KataWorkflows:Limits:MaxRequestBytes=2048");

        var ex = await Assert.ThrowsAsync<RpcException>(async () =>
            await host.Sandboxes.CreateSandboxAsync(Call("sb1", new { config = Config("sb1"), padding = new string('x', 4096) }), cancellationToken: host.Token));
        var small = await host.Sandboxes.CreateSandboxAsync(Create("sb1"), cancellationToken: host.Token);

        Assert.Equal(StatusCode.ResourceExhausted, ex.StatusCode);
        Assert.Equal(("Completed", "Ready"), (small.Status, SandboxState(small)));
    }

    internal static async Task AssertServingAsync(TestHost host)
    {
        var health = await new Health.HealthClient(host.Channel).CheckAsync(new HealthCheckRequest(), cancellationToken: host.Token);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);
        await host.Sandboxes.ListSandboxAsync(new ListRequest(), cancellationToken: host.Token);
    }
}
