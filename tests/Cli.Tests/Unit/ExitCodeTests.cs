using Grpc.Core;
using KataWorkflows.Orchestrations.Model;
using Microsoft.DurableTask.Protobuf;

namespace KataWorkflows.Cli.Tests.Unit;

public sealed class ExitCodeTests
{
    [Fact]
    public void Exit_codes_are_distinct_and_documented()
    {
        var codes = ExitCodes.All.Select(c => c.Code).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7, 8, 130], codes);
    }

    [Theory]
    [InlineData(StatusCode.OK, ExitCodes.Ok)]
    [InlineData(StatusCode.InvalidArgument, ExitCodes.Usage)]
    [InlineData(StatusCode.NotFound, ExitCodes.NotFound)]
    [InlineData(StatusCode.FailedPrecondition, ExitCodes.FailedPrecondition)]
    [InlineData(StatusCode.AlreadyExists, ExitCodes.FailedPrecondition)]
    [InlineData(StatusCode.Unavailable, ExitCodes.Unavailable)]
    [InlineData(StatusCode.DeadlineExceeded, ExitCodes.Timeout)]
    [InlineData(StatusCode.Internal, ExitCodes.Error)]
    public void Grpc_statuses_map_to_exit_codes(StatusCode status, int exit) => Assert.Equal(exit, ErrorMapping.ExitCodeFor(status));

    [Fact]
    public void Recorded_failures_map_by_error_type_including_causes()
    {
        static Microsoft.DurableTask.Protobuf.TaskFailureDetails F(System.Type type, Microsoft.DurableTask.Protobuf.TaskFailureDetails? inner = null) =>
            new() { ErrorType = type.FullName, ErrorMessage = "m", InnerFailure = inner };

        Assert.Equal(ExitCodes.NotFound, ErrorMapping.ExitCodeForFailure(F(typeof(SandboxNotFoundException))));
        Assert.Equal(ExitCodes.FailedPrecondition, ErrorMapping.ExitCodeForFailure(F(typeof(SandboxPreconditionException))));
        Assert.Equal(ExitCodes.FailedPrecondition, ErrorMapping.ExitCodeForFailure(F(typeof(SandboxAlreadyExistsException))));
        Assert.Equal(ExitCodes.Usage, ErrorMapping.ExitCodeForFailure(F(typeof(InvalidOperationException), F(typeof(InvalidSandboxArgumentException)))));
        Assert.Equal(ExitCodes.RunFailed, ErrorMapping.ExitCodeForFailure(F(typeof(SandboxOperationCompensatedException))));
        Assert.Equal(ExitCodes.RunFailed, ErrorMapping.ExitCodeForFailure(F(typeof(InvalidOperationException))));
        Assert.Equal(ExitCodes.RunFailed, ErrorMapping.ExitCodeForFailure(null));
        Assert.True(ErrorMapping.IsCompensated(F(typeof(Exception), F(typeof(SandboxOperationCompensatedException)))));
    }

    [Fact]
    public void Unavailable_names_where_the_cli_tried_to_connect()
    {
        var message = ErrorMapping.MessageFor(new RpcException(new Status(StatusCode.Unavailable, "x", new IOException("refused"))), "unix:/run/x.sock");
        Assert.Equal("cannot reach the host at unix:/run/x.sock: refused", message);

        var tls = new RpcException(new Status(StatusCode.Internal, "x", new HttpRequestException("ssl", new System.Security.Authentication.AuthenticationException("chain"))));
        Assert.Equal(ExitCodes.Unavailable, ErrorMapping.ExitCodeFor(tls));
        Assert.Equal("cannot reach the host at https://h:1/: chain", ErrorMapping.MessageFor(tls, "https://h:1/"));
        Assert.Equal(ExitCodes.Error, ErrorMapping.ExitCodeFor(new RpcException(new Status(StatusCode.Internal, "bug"))));
    }

    [Theory]
    [InlineData("sandbox", "list")]
    [InlineData("wf", "list")]
    [InlineData("sandbox", "create", "sb1", "--hypervisor", "mock", "--kernel", "/k", "--image", "/i")]
    public async Task A_missing_socket_is_exit_7_with_the_path_in_the_message(params string[] args)
    {
        var socket = InProcessKwf.MissingSocket();
        var (exit, _, err) = await InProcessKwf.RunAsync([.. args, "--socket", socket]);
        Assert.Equal(ExitCodes.Unavailable, exit);
        Assert.Contains($"no socket at {socket}", err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Replay_of_a_file_that_is_not_a_history_is_a_usage_error()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, """{ "instanceId": "x" }""", TestContext.Current.CancellationToken);
            var (exit, _, err) = await InProcessKwf.RunAsync(["wf", "replay", file]);
            Assert.Equal(ExitCodes.Usage, exit);
            Assert.Contains("no \"events\" array", err, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
