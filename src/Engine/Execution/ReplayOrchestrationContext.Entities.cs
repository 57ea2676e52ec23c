using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Engine.Execution;

#pragma warning disable CA2007 // Orchestration continuations must stay on the replay synchronization context.

internal sealed partial class ReplayOrchestrationContext
{
    /// <summary>Entity calls, signals and critical sections, emitted as the protocol's entity messages.</summary>
    private sealed class EntityFeature(ReplayOrchestrationContext context) : TaskOrchestrationEntityFeature
    {
        private readonly Dictionary<string, EntityCall> _calls = new(StringComparer.Ordinal);
        private CriticalSection? _section;

        public override async Task<TResult> CallEntityAsync<TResult>(EntityInstanceId id, string operationName, object? input = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(operationName);
            var section = _section;
            if (section is not null)
            {
                if (!section.Granted)
                {
                    throw new EntityLockMisuseException("Await LockEntitiesAsync before calling entities inside the critical section.");
                }

                if (!section.LockSet.Contains(id))
                {
                    throw new EntityLockMisuseException(
                        $"Cannot call entity {id} from inside a critical section that does not lock it (locked: {string.Join(", ", section.LockSet)}).");
                }

                if (!section.Outstanding.Add(id))
                {
                    throw new EntityLockMisuseException($"Entity {id} already has a call in progress from this critical section; await it first.");
                }
            }

            var json = context._converter.Serialize(input);
            var requestId = context.NewGuid().ToString();
            var actionId = context.AddAction(new OrchestratorAction
            {
                SendEntityMessage = new SendEntityMessageAction
                {
                    EntityOperationCalled = new EntityOperationCalledEvent
                    {
                        RequestId = requestId,
                        Operation = operationName,
                        Input = json,
                        ParentInstanceId = context._instanceId,
                        ParentExecutionId = context._executionId,
                        TargetInstanceId = id.ToString(),
                    },
                },
            });
            var call = new EntityCall(operationName, actionId, new TaskCompletionSource<string?>());
            _calls.Add(requestId, call);
            try
            {
                var output = await call.Source.Task;
                return context._converter.Deserialize<TResult>(output)!;
            }
            finally
            {
                section?.Outstanding.Remove(id);
            }
        }

        public override void SignalEntity(EntityInstanceId id, string operationName, object? input = null, DateTime? signalTime = null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(operationName);
            if (_section is not null && _section.LockSet.Contains(id))
            {
                throw new EntityLockMisuseException($"Cannot signal entity {id} from inside a critical section that locks it; call it instead.");
            }

            var signal = new EntityOperationSignaledEvent
            {
                RequestId = context.NewGuid().ToString(),
                Operation = operationName,
                Input = context._converter.Serialize(input),
                TargetInstanceId = id.ToString(),
            };
            if (signalTime is { } at)
            {
                signal.ScheduledTime = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(at.ToUniversalTime());
            }

            context.AddAction(new OrchestratorAction { SendEntityMessage = new SendEntityMessageAction { EntityOperationSignaled = signal } });
        }

        public override async Task<IAsyncDisposable> LockEntitiesAsync(params EntityInstanceId[] entityIds)
        {
            ArgumentNullException.ThrowIfNull(entityIds);
            if (entityIds.Length == 0)
            {
                throw new ArgumentException("A critical section needs at least one entity.", nameof(entityIds));
            }

            if (_section is not null)
            {
                throw new EntityLockMisuseException("Critical sections cannot be nested: release the current one before locking again.");
            }

            // One global order for every orchestration, so two that lock overlapping sets never wait on each other in a cycle.
            var lockSet = entityIds.Distinct().OrderBy(e => e.ToString(), StringComparer.Ordinal).ToArray();
            var section = new CriticalSection(context.NewGuid().ToString(), lockSet);
            var request = new EntityLockRequestedEvent
            {
                CriticalSectionId = section.Id,
                Position = 0,
                ParentInstanceId = context._instanceId,
            };
            request.LockSet.AddRange(lockSet.Select(e => e.ToString()));
            context.AddAction(new OrchestratorAction { SendEntityMessage = new SendEntityMessageAction { EntityLockRequested = request } });
            _section = section;
            await section.GrantSource.Task;
            section.Granted = true;
            return new Releaser(this, section);
        }

        public override bool InCriticalSection(out IReadOnlyList<EntityInstanceId> entityIds)
        {
            if (_section is { Granted: true } section)
            {
                entityIds = section.LockSet;
                return true;
            }

            entityIds = [];
            return false;
        }

        public bool OrchestrationCompleted => context._completion is not null;

        public void ThrowIfInCriticalSection(string what)
        {
            if (_section is not null)
            {
                throw new EntityLockMisuseException($"Cannot {what} inside a critical section.");
            }
        }

        public void OnOperationCompleted(string requestId, string? output, TaskFailureDetails? failure)
        {
            if (!_calls.Remove(requestId, out var call))
            {
                return;
            }

            if (failure is null)
            {
                call.Source.TrySetResult(output);
            }
            else
            {
                call.Source.TrySetException(new TaskFailedException(call.Operation, call.ActionId, FailureDetails.FromProto(failure)!));
            }
        }

        public void OnLockGranted(string criticalSectionId)
        {
            if (_section is { } section && section.Id == criticalSectionId)
            {
                section.GrantSource.TrySetResult();
            }
        }

        /// <summary>Sends the unlock messages for the current critical section, granted or still requested.</summary>
        public void ReleaseAllLocks()
        {
            if (_section is { } section)
            {
                Release(section);
            }
        }

        private void Release(CriticalSection section)
        {
            if (_section != section)
            {
                return;
            }

            _section = null;
            foreach (var entity in section.LockSet)
            {
                context.AddAction(new OrchestratorAction
                {
                    SendEntityMessage = new SendEntityMessageAction
                    {
                        EntityUnlockSent = new EntityUnlockSentEvent
                        {
                            CriticalSectionId = section.Id,
                            ParentInstanceId = context._instanceId,
                            TargetInstanceId = entity.ToString(),
                        },
                    },
                });
            }
        }

        private sealed record EntityCall(string Operation, int ActionId, TaskCompletionSource<string?> Source);

        private sealed class CriticalSection(string id, EntityInstanceId[] lockSet)
        {
            public string Id { get; } = id;

            public EntityInstanceId[] LockSet { get; } = lockSet;

            public TaskCompletionSource GrantSource { get; } = new();

            public bool Granted { get; set; }

            public HashSet<EntityInstanceId> Outstanding { get; } = [];
        }

        private sealed class Releaser(EntityFeature feature, CriticalSection section) : IAsyncDisposable
        {
            public ValueTask DisposeAsync()
            {
                if (!feature.OrchestrationCompleted)
                {
                    feature.Release(section);
                }

                return ValueTask.CompletedTask;
            }
        }
    }
}
