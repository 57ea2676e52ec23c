using System.Diagnostics.CodeAnalysis;
using SdkActivity = Microsoft.DurableTask.ITaskActivity;
using SdkEntity = Microsoft.DurableTask.Entities.ITaskEntity;
using SdkFactory2 = Microsoft.DurableTask.Worker.IDurableTaskFactory2;
using SdkOrchestrator = Microsoft.DurableTask.ITaskOrchestrator;
using SdkRegistry = Microsoft.DurableTask.DurableTaskRegistry;
using SdkTaskName = Microsoft.DurableTask.TaskName;

namespace KataWorkflows.Engine.Sdk;

/// <summary>
/// An SDK task factory over a <see cref="SdkRegistry"/>, for code that has a registry but no worker builder (offline
/// replay, tests). A worker built through <c>UseBuildTarget</c> gets the SDK's own factory and does not need this.
/// </summary>
/// <remarks>Names match case-insensitively, as the SDK's; versioned registrations are the SDK's internal business.</remarks>
public sealed class SdkTaskFactory : SdkFactory2
{
    private readonly Dictionary<string, Func<IServiceProvider, SdkOrchestrator>> _orchestrators;
    private readonly Dictionary<string, Func<IServiceProvider, SdkActivity>> _activities;
    private readonly Dictionary<string, Func<IServiceProvider, SdkEntity>> _entities;

    private SdkTaskFactory(SdkRegistry registry)
    {
        _orchestrators = registry.GetOrchestrators().ToDictionary(p => p.Key.Name, p => p.Value, StringComparer.OrdinalIgnoreCase);
        _activities = registry.GetActivities().ToDictionary(p => p.Key.Name, p => p.Value, StringComparer.OrdinalIgnoreCase);
        _entities = registry.GetEntities().ToDictionary(p => p.Key.Name, p => p.Value, StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>A factory over what the registry holds now.</summary>
    public static SdkTaskFactory FromRegistry(SdkRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return new SdkTaskFactory(registry);
    }

    /// <inheritdoc/>
    public bool TryCreateOrchestrator(SdkTaskName name, IServiceProvider serviceProvider, [NotNullWhen(true)] out SdkOrchestrator? orchestrator)
    {
        orchestrator = _orchestrators.TryGetValue(name.Name, out var create) ? create(serviceProvider) : null;
        return orchestrator is not null;
    }

    /// <inheritdoc/>
    public bool TryCreateActivity(SdkTaskName name, IServiceProvider serviceProvider, [NotNullWhen(true)] out SdkActivity? activity)
    {
        activity = _activities.TryGetValue(name.Name, out var create) ? create(serviceProvider) : null;
        return activity is not null;
    }

    /// <inheritdoc/>
    public bool TryCreateEntity(SdkTaskName name, IServiceProvider serviceProvider, [NotNullWhen(true)] out SdkEntity? entity)
    {
        entity = _entities.TryGetValue(name.Name, out var create) ? create(serviceProvider) : null;
        return entity is not null;
    }
}
