using System.Reflection;
using System.Runtime.CompilerServices;
using KataWorkflows.Engine;
using KataWorkflows.Engine.Storage;

namespace KataWorkflows.Storage.Tests;

public sealed class DelegatingOrchestrationStoreTests
{
    private static readonly MethodInfo[] StoreMembers =
        typeof(IOrchestrationStore).GetMethods();

    [Fact]
    public void Every_store_member_but_dispose_is_an_overridable_method_of_the_delegating_store()
    {
        var map = typeof(DelegatingOrchestrationStore).GetInterfaceMap(typeof(IOrchestrationStore));
        Assert.All(map.TargetMethods, m => Assert.True(m.IsVirtual && !m.IsFinal, $"{m.Name} is not overridable"));
        var core = typeof(DelegatingOrchestrationStore).GetMethod("DisposeAsyncCore", BindingFlags.NonPublic | BindingFlags.Instance);
        Assert.True(core is { IsVirtual: true, IsFinal: false }, "DisposeAsyncCore is not overridable");
    }

    [Fact]
    public void Every_store_member_reaches_the_inner_store_with_the_same_arguments_and_returns_its_answer()
    {
        var inner = RecordingOrchestrationStore.Create();
        var recorder = (RecordingOrchestrationStore)inner;
        var store = new PassThroughOrchestrationStore(inner);

        foreach (var member in StoreMembers)
        {
            var arguments = member.GetParameters().Select(p => Sample(p.ParameterType)).ToArray();
            var answer = member.Invoke(store, arguments);

            var call = Assert.Single(recorder.Calls);
            Assert.Equal(member, call.Method);
            Assert.Equal(arguments.Length, call.Arguments.Length);
            for (var i = 0; i < arguments.Length; i++)
            {
                AssertPassedOn(arguments[i], call.Arguments[i]);
            }

            AssertPassedOn(call.Result, answer);
            recorder.Calls.Clear();
        }
    }

    [Fact]
    public async Task Disposing_the_delegating_store_disposes_the_inner_store()
    {
        var inner = RecordingOrchestrationStore.Create();
        var recorder = (RecordingOrchestrationStore)inner;

        await new PassThroughOrchestrationStore(inner).DisposeAsync();

        Assert.Equal(nameof(IAsyncDisposable.DisposeAsync), Assert.Single(recorder.Calls).Method.Name);
    }

    private static void AssertPassedOn(object? sent, object? received)
    {
        if (sent is null || sent.GetType().IsValueType)
        {
            Assert.Equal(sent, received);
        }
        else
        {
            Assert.Same(sent, received);
        }
    }

    // Values that differ from their type's default, so passing default instead would be caught.
    private static object Sample(Type type) =>
        type == typeof(string) ? "sample" :
        type == typeof(bool) ? true :
        type == typeof(TimeSpan) ? TimeSpan.FromSeconds(7) :
        type == typeof(DateTime?) ? new DateTime(2030, 1, 2, 3, 4, 5, DateTimeKind.Utc) :
        type == typeof(WorkItemKind) ? WorkItemKind.Entity :
        type == typeof(EntityInstanceId) ? new EntityInstanceId("counter", "sample") :
        type == typeof(CancellationToken) ? new CancellationToken(canceled: true) :
        type == typeof(object) ? new object() :
        type.IsClass ? RuntimeHelpers.GetUninitializedObject(type) :
        throw new NotSupportedException($"no sample for {type}");
}
