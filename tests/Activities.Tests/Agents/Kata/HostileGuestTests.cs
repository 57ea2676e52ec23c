using System.Diagnostics;
using Grpc.Core;
using KataWorkflows.Activities.Agents.Kata;
using KataWorkflows.Activities.Store;
using KataWorkflows.Engine;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Ttrpc;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Tests.Agents.Kata;

/// <summary>
/// The Kata agent driver against a guest that misbehaves on its channel (<see cref="HostileGuest"/>): every call to
/// that sandbox fails with a clear error within the driver's timeout, the host's memory stays bounded, and the one
/// driver keeps serving another sandbox whose agent, on its own socket, behaves.
/// </summary>
public sealed class HostileGuestTests : IAsyncLifetime
{
    private const string Bad = "hostile";
    private const string Good = "good";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    // A call that outlives its timeout by this much hangs: the test fails (TimeoutException) instead of waiting for ever.
    private static readonly TimeSpan Bound = Timeout + TimeSpan.FromSeconds(20);

    private readonly string _root = Path.Combine(Path.GetTempPath(), "kwf-" + Guid.NewGuid().ToString("N")[..8]);
    private KataAgent _agent = null!;
    private RecordingAgentServer _goodGuest = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public ValueTask InitializeAsync()
    {
        _agent = new KataAgent(
            Options.Create(new KataAgentOptions
            {
                SharedDirectory = Path.Join(_root, "shared"),
                BindMountRootfs = false,
                DialTimeout = Timeout,
                CheckTimeout = Timeout,
                RequestTimeout = Timeout,
            }),
            Options.Create(new HostStoreOptions { RunRoot = Path.Join(_root, "run") }),
            TimeProvider.System,
            NullLogger<KataAgent>.Instance);
        _goodGuest = RecordingAgentServer.Start(_agent.SocketPathOf(Good));
        return ValueTask.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await _agent.DisposeAsync();
        await _goodGuest.DisposeAsync();
        Directory.Delete(_root, recursive: true);
    }

    public static TheoryData<HostileBehaviour, int, StatusCode, string> Behaviours() => new()
    {
        { HostileBehaviour.Flood, 40, StatusCode.Unavailable, "which this client never opened" },
        { HostileBehaviour.Oversized, 20, StatusCode.Unavailable, "announces 67108864 bytes of data, over the limit of 4194304 bytes" },
        { HostileBehaviour.Malformed, 20, StatusCode.Unavailable, "is not a ttrpc Response" },
        { HostileBehaviour.WrongMessage, 20, StatusCode.Internal, "answered grpc.AgentService/StatsContainer with something else than its response: the response is not a valid StatsContainerResponse" },
        { HostileBehaviour.Truncated, 20, StatusCode.Unavailable, "closed the connection in the middle of the data of a frame on stream 1 (50 of 100 bytes)" },
        { HostileBehaviour.Silent, 2, StatusCode.DeadlineExceeded, "did not answer grpc.AgentService/StatsContainer on" },
    };

    [Theory]
    [MemberData(nameof(Behaviours))]
    public async Task A_hostile_guest_fails_its_sandboxs_calls_clearly_within_the_timeout_while_another_sandbox_is_served(
        HostileBehaviour behaviour, int calls, StatusCode expected, string reason)
    {
        await using var guest = HostileGuest.Start(_agent.SocketPathOf(Bad), behaviour);
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        var failures = await WhileTheGoodSandboxIsServedAsync(async () =>
        {
            var seen = new List<(KataAgentException Error, TimeSpan Took)>();
            for (var i = 0; i < calls; i++)
            {
                var took = Stopwatch.StartNew();
                var e = await Assert.ThrowsAnyAsync<KataAgentException>(() => _agent.StatsContainerAsync(Bad, "c1", Ct).WaitAsync(Bound, Ct));
                seen.Add((e, took.Elapsed));
            }

            return seen;
        });

        var heapGrowth = GC.GetTotalMemory(forceFullCollection: true) - heapBefore;
        foreach (var (error, took) in failures)
        {
            Assert.Equal(expected, error.StatusCode);
            Assert.Contains(reason, error.Message, StringComparison.Ordinal);
            Assert.Contains($"sandbox '{Bad}'", error.Message, StringComparison.Ordinal);
            Assert.Equal(guest.SocketPath, error.SocketPath);
            Assert.False(error.IsPermanent, "a misbehaving channel may recover (a new VM, a restarted agent): retriable");
            Assert.True(took < Timeout + TimeSpan.FromSeconds(3), $"a call took {took}, the timeout is {Timeout}");
        }

        if (behaviour == HostileBehaviour.Flood)
        {
            // The flood was real, and none of it stayed: each 4 MiB frame is read alone and dropped with its connection.
            Assert.True(guest.BytesSent > (long)calls * (TtrpcFrame.MaxDataLength / 2), $"the flood sent only {guest.BytesSent} bytes");
        }

        Assert.True(heapGrowth < 64 << 20, $"the managed heap grew by {heapGrowth} bytes");
    }

    [Fact]
    public async Task A_guest_that_never_reads_fails_a_large_call_at_its_timeout_and_its_connection_is_dropped()
    {
        await using var guest = HostileGuest.Start(_agent.SocketPathOf(Bad), HostileBehaviour.NotReading);
        var file = Path.Join(_root, "big.bin");
        Directory.CreateDirectory(_root);
        await File.WriteAllBytesAsync(file, new byte[3 << 20], Ct);

        var failures = await WhileTheGoodSandboxIsServedAsync(async () =>
        {
            var seen = new List<(KataAgentException Error, TimeSpan Took)>();
            for (var i = 0; i < 2; i++)
            {
                var took = Stopwatch.StartNew();
                var e = await Assert.ThrowsAnyAsync<KataAgentException>(() => _agent.CopyFileAsync(Bad, file, "/tmp/big.bin", Ct).WaitAsync(Bound, Ct));
                seen.Add((e, took.Elapsed));
            }

            return seen;
        });

        foreach (var (error, took) in failures)
        {
            Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
            Assert.Equal($"The Kata agent of sandbox '{Bad}' did not answer grpc.AgentService/CopyFile on {guest.SocketPath} within {Timeout}.", error.Message);
            Assert.True(took < Timeout + TimeSpan.FromSeconds(3), $"a call took {took}, the timeout is {Timeout}");
        }

        // The half-written request broke the connection: the second call dialled a new one.
        Assert.Equal(2, guest.Connections);
    }

    [Theory]
    [InlineData(StatusCode.NotFound, true)]
    [InlineData(StatusCode.AlreadyExists, true)]
    [InlineData(StatusCode.FailedPrecondition, true)]
    [InlineData(StatusCode.InvalidArgument, true)]
    [InlineData(StatusCode.Unimplemented, true)]
    [InlineData(StatusCode.Unavailable, false)]
    [InlineData(StatusCode.DeadlineExceeded, false)]
    [InlineData(StatusCode.ResourceExhausted, false)]
    [InlineData(StatusCode.Internal, false)]
    [InlineData(StatusCode.Unknown, false)]
    public async Task An_agent_error_is_non_retriable_exactly_when_a_retry_would_get_the_same_answer(StatusCode code, bool permanent)
    {
        _goodGuest.Fail("PauseContainer", new TtrpcException(code, "the agent's words"));

        var e = await Assert.ThrowsAnyAsync<KataAgentException>(() => _agent.PauseContainerAsync(Good, "c1", Ct));

        Assert.Equal(code, e.StatusCode);
        Assert.Equal(permanent, e.IsPermanent);
        Assert.Equal(permanent, e is KataAgentRejectedException);
        Assert.Equal(permanent, FailureDetails.FromException(e).IsNonRetriable);
        Assert.EndsWith($"answered grpc.AgentService/PauseContainer with {code}: the agent's words", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("running")]
    [InlineData("paused")]
    [InlineData("stopped")]
    public async Task StartContainer_of_a_container_the_agent_says_was_started_counts_as_done(string status)
    {
        _goodGuest.Fail("StartContainer", new TtrpcException(StatusCode.FailedPrecondition, $"Container c1 status {status}, should be created"));

        await _agent.StartContainerAsync(Good, "c1", Ct);

        Assert.Equal(["grpc.AgentService/StartContainer"], _goodGuest.Methods);
    }

    [Theory]
    [InlineData("Sandbox not started")]
    [InlineData("Container c2 status running, should be created")]
    public async Task StartContainer_refused_for_another_reason_still_fails(string message)
    {
        _goodGuest.Fail("StartContainer", new TtrpcException(StatusCode.FailedPrecondition, message));

        var e = await Assert.ThrowsAsync<KataAgentRejectedException>(() => _agent.StartContainerAsync(Good, "c1", Ct));

        Assert.EndsWith(message, e.Message, StringComparison.Ordinal);
    }

    /// <summary>
    /// Runs <paramref name="hostile"/> while a loop keeps calling the good sandbox through the same driver; every one of
    /// those calls must succeed, each well within the timeout.
    /// </summary>
    private async Task<T> WhileTheGoodSandboxIsServedAsync<T>(Func<Task<T>> hostile)
    {
        using var done = new CancellationTokenSource();
        var served = 0;
        var slowest = TimeSpan.Zero;
        var good = Task.Run(async () =>
        {
            while (!done.IsCancellationRequested)
            {
                var took = Stopwatch.StartNew();
                await _agent.ListRoutesAsync(Good, Ct);
                slowest = took.Elapsed > slowest ? took.Elapsed : slowest;
                served++;
            }
        });

        var result = await hostile();
        await done.CancelAsync();
        await good;
        Assert.True(served > 0, "the good sandbox was never served");
        Assert.True(slowest < Timeout, $"a call to the good sandbox took {slowest}");
        return result;
    }
}
