using KataWorkflows.Activities.Drivers;
using KataWorkflows.Activities.Faults;
using KataWorkflows.Activities.Store;
using Microsoft.Extensions.Logging;

namespace KataWorkflows.Activities;

/// <summary>What every sandbox activity needs, in one dependency: the drivers, the host store, the fault injector and a logger.</summary>
public sealed class SandboxActivityServices
{
    /// <summary>Creates the bundle.</summary>
    public SandboxActivityServices(IDriverResolver drivers, ISandboxStore store, FaultInjector faults, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(drivers);
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(faults);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        Drivers = drivers;
        Store = store;
        Faults = faults;
        Logger = loggerFactory.CreateLogger("KataWorkflows.Activities");
    }

    /// <summary>Picks each sandbox's drivers.</summary>
    public IDriverResolver Drivers { get; }

    /// <summary>The host's run-directory store.</summary>
    public ISandboxStore Store { get; }

    /// <summary>The fault injector.</summary>
    public FaultInjector Faults { get; }

    /// <summary>The logger of the activities.</summary>
    public ILogger Logger { get; }
}
