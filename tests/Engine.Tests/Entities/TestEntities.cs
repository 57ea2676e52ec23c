using KataWorkflows.Engine.Tests.Harness;

namespace KataWorkflows.Engine.Tests.Entities;

using EntityInstanceId = Microsoft.DurableTask.Entities.EntityInstanceId;

/// <summary>A number that operations add to.</summary>
public sealed class Counter : TaskEntity<int>
{
    public int Add(int amount) => State += amount;

    public int Get() => State;

    /// <summary>Changes the state, then throws: the change must not stick.</summary>
    public void Fail(string message)
    {
        State = -1000;
        throw new InvalidOperationException(message);
    }
}

/// <summary>Records who entered and left its critical sections, in order.</summary>
public sealed class CriticalLog : TaskEntity<List<string>>
{
    public void Enter(string who) => State.Add("enter:" + who);

    public void Exit(string who) => State.Add("exit:" + who);

    public List<string> Get() => State;
}

/// <summary>What <see cref="Relay.Forward"/> does.</summary>
public sealed record ForwardRequest(string CounterKey, int Amount, string OrchestrationId);

/// <summary>An entity that signals another entity and starts an orchestration.</summary>
public sealed class Relay : TaskEntity<int>
{
    public int Forward(ForwardRequest request, TaskEntityContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        context.SignalEntity(new EntityInstanceId(EntityTestApp.Counter, request.CounterKey), "Add", request.Amount);
        context.ScheduleNewOrchestration(EntityTestApp.ReadCounter, request.CounterKey, new StartOrchestrationOptions(request.OrchestrationId));
        return ++State;
    }
}

/// <summary>
/// An entity written against <see cref="ITaskEntity"/> directly: it writes its state and sends a signal before it
/// decides to fail, so only the executor can undo them.
/// </summary>
public sealed class RawLedger : ITaskEntity
{
    public ValueTask<object?> RunAsync(TaskEntityOperation operation)
    {
        ArgumentNullException.ThrowIfNull(operation);
        var balance = operation.State.HasState ? operation.State.GetState<int>() : 0;
        switch (operation.Name)
        {
            case "deposit":
                balance += operation.GetInput<int>();
                operation.State.SetState(balance);
                return ValueTask.FromResult<object?>(balance);
            case "overdraw":
                operation.State.SetState(balance - 1000);
                operation.Context.SignalEntity(EntityTestApp.CounterId("ledger-audit"), "Add", 1);
                throw new InvalidOperationException("overdraft refused");
            default:
                return ValueTask.FromResult<object?>(balance);
        }
    }
}

/// <summary>A call an orchestration makes on a counter.</summary>
public sealed record CounterCall(string Key, string Operation, int? Input = null);

/// <summary>Counts activities inside critical sections at once; more than one is a broken lock.</summary>
public sealed class OverlapDetector
{
    private int _inside;
    private int _overlaps;
    private int _runs;

    public int Overlaps => Volatile.Read(ref _overlaps);

    public int Runs => Volatile.Read(ref _runs);

    public async Task RunAsync(Func<Task> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Interlocked.Increment(ref _runs);
        if (Interlocked.Increment(ref _inside) > 1)
        {
            Interlocked.Increment(ref _overlaps);
        }

        try
        {
            await Task.Yield();
            await body();
        }
        finally
        {
            Interlocked.Decrement(ref _inside);
        }
    }
}

/// <summary>The entities and orchestrations the entity tests share.</summary>
public static class EntityTestApp
{
    public const string Counter = "counter";
    public const string Log = "log";
    public const string ReadCounter = "read-counter";

    public static EntityInstanceId CounterId(string key) => new(Counter, key);

    public static EntityInstanceId LogId(string key) => new(Log, key);

    /// <summary>
    /// Registers everything. <paramref name="gate"/> holds the "blocking" activity and the critical work of an
    /// instance whose id starts with "hold"; <paramref name="overlaps"/> watches the critical work.
    /// </summary>
    public static void Register(DurableTaskRegistry r, Gate gate, OverlapDetector overlaps)
    {
        r.AddEntity(Counter, _ => new Counter());
        r.AddEntity("tally", _ => new Counter());
        r.AddEntity(Log, _ => new CriticalLog());
        r.AddEntity("relay", _ => new Relay());
        r.AddEntity("ledger", _ => new RawLedger());

        r.AddActivityFunc<string, string>("blocking", async (ctx, input) =>
        {
            await gate.PassAsync(ActivityExecution.CancellationToken);
            return input;
        });
        r.AddActivityFunc<string, string>("critical-work", async (ctx, who) =>
        {
            await overlaps.RunAsync(() => who.StartsWith("hold", StringComparison.Ordinal) ? gate.PassAsync(ActivityExecution.CancellationToken) : Task.CompletedTask);
            return who;
        });
        r.AddActivityFunc<string, string>("explode", (ctx, _) => Task.FromException<string>(new InvalidOperationException("activity exploded")));

        r.AddOrchestratorFunc<CounterCall, int>("counter-call", async (ctx, call) =>
            // An operation without a result (delete) answers null; the SDK reads null as no value, not as 0.
            (await ctx.Entities.CallEntityAsync<int?>(CounterId(call.Key), call.Operation, call.Input)) ?? 0);
        r.AddOrchestratorFunc<string, int>(ReadCounter, (ctx, key) => ctx.Entities.CallEntityAsync<int>(CounterId(key), "Get"));

        // Locks a counter, adds one, waits at the gate inside the critical section, adds one more.
        r.AddOrchestratorFunc<string, int>("holder", async (ctx, key) =>
        {
            var id = CounterId(key);
            await using (await ctx.Entities.LockEntitiesAsync(id))
            {
                await ctx.Entities.CallEntityAsync<int>(id, "Add", 1);
                await ctx.CallActivityAsync("blocking", ctx.InstanceId);
                return await ctx.Entities.CallEntityAsync<int>(id, "Add", 1);
            }
        });

        // Locks a counter and adds to it; the result shows what the holders before it did.
        r.AddOrchestratorFunc<CounterCall, int>("lock-and-add", async (ctx, call) =>
        {
            var id = CounterId(call.Key);
            await using (await ctx.Entities.LockEntitiesAsync(id))
            {
                return await ctx.Entities.CallEntityAsync<int>(id, "Add", call.Input ?? 0);
            }
        });

        // Locks the given counters in the given order and adds one to each.
        r.AddOrchestratorFunc<string[], int>("lock-all", async (ctx, keys) =>
        {
            var ids = keys.Select(CounterId).ToArray();
            var sum = 0;
            await using (await ctx.Entities.LockEntitiesAsync(ids))
            {
                foreach (var id in ids)
                {
                    sum += await ctx.Entities.CallEntityAsync<int>(id, "Add", 1);
                }
            }

            return sum;
        });

        // Enters the log entity's critical section, does work outside the entity, and leaves.
        r.AddOrchestratorFunc<string, string>("contender", async (ctx, key) =>
        {
            var id = LogId(key);
            await using (await ctx.Entities.LockEntitiesAsync(id))
            {
                await ctx.Entities.CallEntityAsync(id, "Enter", ctx.InstanceId);
                await ctx.CallActivityAsync("critical-work", ctx.InstanceId);
                await ctx.Entities.CallEntityAsync(id, "Exit", ctx.InstanceId);
            }

            return ctx.InstanceId;
        });
    }
}
