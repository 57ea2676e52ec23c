using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Orchestrations.Tests.Harness;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>What every call does with ids that are empty, malformed or unknown.</summary>
public sealed class RequestValidationTests
{
    public static TheoryData<string> EveryCall() => new(Ops.All);

    public static TheoryData<string> EveryCallOnAnExistingSandbox() => new(Ops.All.Where(o => o is not (Ops.CreateSandbox or Ops.RunSandbox)));

    public static TheoryData<string> ContainerCalls() => new(TestSandboxes.ContainerCalls);

    [Theory]
    [MemberData(nameof(EveryCall))]
    public async Task An_empty_sandbox_id_is_refused_before_anything_is_scheduled(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(operation, TestSandboxes.ValidRequest(operation, string.Empty));

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("Sandbox ID cannot be empty", ex.Message);
        Assert.Null(ex.InstanceId);
        Assert.Empty(await h.InstancesAsync());
    }

    [Theory]
    [MemberData(nameof(ContainerCalls))]
    public async Task An_empty_container_id_is_refused_before_anything_is_scheduled(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(operation, TestSandboxes.ValidRequest(operation, "sb1", containerId: string.Empty));

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("Container ID cannot be empty", ex.Message);
        Assert.Empty(await h.InstancesAsync());
    }

    [Fact]
    public async Task A_new_container_without_an_id_is_refused_before_anything_is_scheduled()
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(Ops.CreateContainer, TestSandboxes.NewContainer("sb1", string.Empty));

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("Container ID cannot be empty", ex.Message);
        Assert.Empty(await h.InstancesAsync());
    }

    [Theory]
    [MemberData(nameof(EveryCall))]
    public async Task A_malformed_sandbox_id_is_refused_before_anything_is_scheduled(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(operation, TestSandboxes.ValidRequest(operation, "../etc"));

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Contains("is not a valid sandbox id", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await h.InstancesAsync());
    }

    [Fact]
    public async Task A_config_for_another_sandbox_is_refused_before_anything_is_scheduled()
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb2") with { SandboxId = "sb1" });

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.Equal("sandboxId 'sb1' differs from sandboxConfig.id 'sb2'", ex.Message);
        Assert.Empty(await h.InstancesAsync());
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("a:b")]
    public async Task A_malformed_request_id_is_refused_before_anything_is_scheduled(string requestId)
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1"), requestId);

        Assert.Equal(SandboxErrorKind.InvalidArgument, ex.Kind);
        Assert.StartsWith("requestId must be", ex.Message, StringComparison.Ordinal);
        Assert.Empty(await h.InstancesAsync());
    }

    [Theory]
    [MemberData(nameof(EveryCallOnAnExistingSandbox))]
    public async Task An_unknown_sandbox_is_NotFound_and_leaves_no_entity_behind(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();

        var ex = await h.CallFailsAsync(operation, TestSandboxes.ValidRequest(operation, "ghost"));

        Assert.Equal(SandboxErrorKind.NotFound, ex.Kind);
        Assert.Equal("Sandbox ghost does not exist", ex.Message);
        Assert.NotNull(ex.InstanceId);
        await h.AssertNothingLeftAsync("ghost");
        Assert.Empty(h.Calls.All);
    }

    [Theory]
    [MemberData(nameof(ContainerCalls))]
    public async Task An_unknown_container_is_NotFound_and_changes_nothing(string operation)
    {
        await using var h = await SandboxHarness.StartAsync();
        await h.CallAsync(Ops.RunSandbox, TestSandboxes.Create("sb1", "c1"));
        var before = await h.RequireRecordAsync("sb1");
        var calls = h.Calls.All.Count;

        var ex = await h.CallFailsAsync(operation, TestSandboxes.ValidRequest(operation, "sb1", "zz"));

        Assert.Equal(SandboxErrorKind.NotFound, ex.Kind);
        Assert.Equal("Container does not exist: zz", ex.Message);
        Assert.Equal(before, await h.RequireRecordAsync("sb1"), SandboxRecordComparer.Instance);
        Assert.Equal(calls, h.Calls.All.Count);
        Assert.NotNull((await h.UnlockedEntityAsync("sb1"))?.SerializedState);
    }
}
