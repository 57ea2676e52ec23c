using KataWorkflows.Engine.Serialization;
using KataWorkflows.Engine.Tests.Harness;

namespace KataWorkflows.Engine.Tests.Replay;

public sealed class HistoryGeneratorTests
{
    /// <summary>Set to 1 to run the orchestrations again and overwrite the checked-in history files.</summary>
    public const string Switch = "KATA_WRITE_HISTORIES";

    [Fact]
    public async Task Generate_checked_in_histories()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable(Switch) == "1", $"Writes Histories/*.json; run with {Switch}=1 to regenerate them.");
        await using var harness = await EngineHarness.StartAsync(ReplayOrchestrations.Register);

        await harness.RunAsync(ReplayOrchestrations.ActivityChain, "durable", "replay-chain");
        await harness.ScheduleAsync(ReplayOrchestrations.Approval, 3, "replay-approval");
        await harness.WaitForInstanceAsync("replay-approval", m => m.SerializedCustomStatus == "\"awaiting approval\"", "to await approval");
        await harness.Client.RaiseEventAsync("replay-approval", ReplayOrchestrations.ApprovalEvent, "alice", harness.Token);
        await harness.WaitForCompletionAsync("replay-approval");
        var approvalHistory = await harness.HistoryAsync("replay-approval");
        var childId = approvalHistory.Single(e => e.SubOrchestrationInstanceCreated is not null).SubOrchestrationInstanceCreated.InstanceId;

        Directory.CreateDirectory(HistoryFiles.SourceFolder());
        await WriteAsync(harness, "replay-chain", "activity-chain.json");
        await WriteAsync(harness, "replay-approval", "approval.json");
        await WriteAsync(harness, childId, "fan-out.json");
    }

    private static async Task WriteAsync(EngineHarness harness, string instanceId, string fileName)
    {
        var metadata = await harness.WaitForCompletionAsync(instanceId);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, metadata.Status);
        var document = new HistoryDocument
        {
            InstanceId = instanceId,
            Name = metadata.Name,
            ExecutionId = metadata.ExecutionId,
            Status = metadata.Status.ToString(),
            Events = await harness.HistoryAsync(instanceId),
        };
        await File.WriteAllTextAsync(Path.Combine(HistoryFiles.SourceFolder(), fileName), document.ToJson(), harness.Token);
    }
}
