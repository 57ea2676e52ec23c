namespace KataWorkflows.Activities.Drivers;

/// <summary>
/// One driver registered in dependency injection under the type name sandboxes use. Added by
/// <see cref="SandboxDriversServiceCollectionExtensions.AddHypervisorDriver{THypervisor}"/> and its siblings; the
/// <see cref="DriverRegistry"/> reads them all, and the last registration of a name wins.
/// </summary>
/// <param name="Kind">The role.</param>
/// <param name="Name">The type name (<c>mock</c>, <c>noop</c>, <c>none</c>...).</param>
/// <param name="Factory">Returns the driver (a singleton: drivers hold host-wide state).</param>
public sealed record DriverRegistration(DriverKind Kind, string Name, Func<IServiceProvider, object> Factory);
