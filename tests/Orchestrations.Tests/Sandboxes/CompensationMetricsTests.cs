using KataWorkflows.Activities.Faults;
using KataWorkflows.Orchestrations.Client;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Orchestrations.Tests.Harness;
using KataWorkflows.TestSupport;
using Ops = KataWorkflows.Orchestrations.Sandboxes.SandboxOrchestrations;

namespace KataWorkflows.Orchestrations.Tests.Sandboxes;

/// <summary>Runs alone: the meter is process-wide, and other tests compensate runs too.</summary>
[CollectionDefinition(nameof(SerialMeterTests), DisableParallelization = true)]
public sealed class SerialMeterTests;

/// <summary>The <c>KataWorkflows.Orchestrations</c> meter counts compensated runs, once each, by operation.</summary>
[Collection(nameof(SerialMeterTests))]
public sealed class CompensationMetricsTests
{
    [Fact]
    public async Task A_compensated_run_is_counted_once_under_its_operation_and_other_outcomes_are_not()
    {
        using var metrics = new MetricCollector(SandboxTelemetry.Name);
        await using var h = await SandboxHarness.StartAsync(o => o.FaultRules.Add(new FaultRule { Step = SandboxActivities.StartVm, Mode = FaultMode.Fail, Times = 1 }));

        var failed = await h.CallFailsAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        Assert.Equal(SandboxErrorKind.Compensated, failed.Kind);
        await h.CallAsync(Ops.CreateSandbox, TestSandboxes.Create("sb1", "c1"));
        var notFound = await h.CallFailsAsync(Ops.DeleteSandbox, TestSandboxes.Sandbox("sb2"));
        Assert.Equal(SandboxErrorKind.NotFound, notFound.Kind);

        Assert.Equal([1.0], metrics.Values(SandboxTelemetry.CompensatedInstrument));
        Assert.Equal([1.0], metrics.Values(SandboxTelemetry.CompensatedInstrument, (SandboxTelemetry.OperationTag, Ops.CreateSandbox)));
    }
}
