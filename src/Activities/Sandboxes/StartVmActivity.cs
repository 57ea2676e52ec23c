using KataWorkflows.Engine.Worker;
using Microsoft.DurableTask;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Sandboxes;

/// <summary>
/// <see cref="SandboxActivities.StartVm"/>: boots the VM, then sets up the guest side (Kata's <c>startVM</c>: the
/// hypervisor's start, then the agent's interfaces and <c>CreateSandbox</c>). When any of it fails, the VM is
/// stopped again before the failure is reported, as Kata's <c>startVM</c> does.
/// </summary>
public sealed class StartVmActivity(SandboxActivityServices services) : SandboxActivity<VmRequest, VmState>(services)
{
    /// <inheritdoc />
    public override async Task<VmState> RunAsync(TaskActivityContext context, VmRequest input)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(input);
        var id = input.Target.SandboxId;
        var hypervisor = Drivers.GetHypervisor(input.Target.HypervisorType);
        var agent = Drivers.GetAgent(input.Target.AgentType);
        VmState? vm = null;
        try
        {
            vm = await CallAsync(context, id, ct => hypervisor.StartVmAsync(id, input.Config, input.Network, ct)).ConfigureAwait(false);
            foreach (var endpoint in input.Network?.Endpoints ?? [])
            {
                await CallAsync(context, id, ct => agent.UpdateInterfaceAsync(id, endpoint, ct)).ConfigureAwait(false);
            }

            // Kata's startSandbox sends the routes of the namespace after the interfaces: the endpoints' link routes (the
            // kernel's routes to each address's subnet, which the agent's UpdateRoutes replaces with the rest), then the
            // driver's (the default route through the host end among them).
            if (input.Network is { Routes.Count: > 0 } network)
            {
                var routes = GuestRoutes(network);
                await CallAsync(context, id, ct => agent.UpdateRoutesAsync(id, routes, ct)).ConfigureAwait(false);
            }

            await CallAsync(context, id, async ct =>
            {
                await agent.CreateSandboxAsync(id, input.Config, ct).ConfigureAwait(false);
                return true;
            }).ConfigureAwait(false);
        }
        catch (Exception ex) when (!ActivityExecution.CancellationToken.IsCancellationRequested)
        {
            // The orchestration undoes this step only once it succeeded, so what it may have set up is torn down here
            // (destroying a guest sandbox or stopping a VM that is not there is a no-op).
            await UndoAsync(context, id, "agent.destroySandbox", ex, ct => agent.DestroySandboxAsync(id, ct)).ConfigureAwait(false);
            await UndoAsync(context, id, "hypervisor.stopVM", ex, ct => hypervisor.StopVmAsync(id, vm, ct)).ConfigureAwait(false);
            throw;
        }

        return vm;
    }

    private const int ScopeLink = 253;

    /// <summary>The routes startVM sends the guest: each endpoint's link route the network's routes do not name, then the network's routes.</summary>
    public static IReadOnlyList<RouteRecord> GuestRoutes(NetworkState network)
    {
        ArgumentNullException.ThrowIfNull(network);
        return [.. LinkRoutes(network).Where(r => !network.Routes.Any(o => o.Dest == r.Dest && o.Device == r.Device)), .. network.Routes];
    }

    private static IEnumerable<RouteRecord> LinkRoutes(NetworkState network)
    {
        foreach (var endpoint in network.Endpoints)
        {
            foreach (var text in endpoint.IpAddresses)
            {
                if (NetworkAddresses.TryParse(text, out var address, out var prefix))
                {
                    yield return new RouteRecord
                    {
                        Dest = $"{NetworkAddresses.Network(address, prefix)}/{prefix.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
                        Device = endpoint.Name,
                        Source = address.ToString(),
                        Scope = ScopeLink,
                    };
                }
            }
        }
    }
}
