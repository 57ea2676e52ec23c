using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

/// <summary>A <see cref="DelegatingOrchestrationStore"/> that overrides nothing: everything it does is the inner store's.</summary>
public sealed class PassThroughOrchestrationStore(IOrchestrationStore inner) : DelegatingOrchestrationStore(inner);
