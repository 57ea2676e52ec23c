using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Model;

public sealed class SandboxIdsTests
{
    public static TheoryData<string> ValidIds() => new("a", "0", "sb-1", "A_b.c-9", "a..b", new string('x', 128));

    public static TheoryData<string> InvalidIds() => new("../etc", "..", ".hidden", "-dash", "_under", "a/b", "a b", "a\0b", "é", new string('x', 129));

    [Theory]
    [MemberData(nameof(ValidIds))]
    public void Ids_matching_the_pattern_are_accepted(string id)
    {
        SandboxIds.ValidateSandboxId(id);
        SandboxIds.ValidateContainerId(id);
    }

    [Theory]
    [MemberData(nameof(InvalidIds))]
    public void Ids_that_could_escape_the_run_directory_or_are_too_long_are_refused(string id)
    {
        var sandbox = Assert.Throws<InvalidSandboxArgumentException>(() => SandboxIds.ValidateSandboxId(id));
        Assert.Equal("sandboxId", sandbox.Field);
        Assert.Contains("is not a valid sandbox id", sandbox.Message, StringComparison.Ordinal);
        Assert.Contains(SandboxIds.Pattern, sandbox.Message, StringComparison.Ordinal);
        Assert.Contains($"({id.Length} characters;", sandbox.Message, StringComparison.Ordinal);

        var container = Assert.Throws<InvalidSandboxArgumentException>(() => SandboxIds.ValidateContainerId(id, "container.id"));
        Assert.Equal("container.id", container.Field);
        Assert.Contains("is not a valid container id", container.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void Empty_ids_get_Katas_messages(string? id)
    {
        Assert.Equal("Sandbox ID cannot be empty", Assert.Throws<InvalidSandboxArgumentException>(() => SandboxIds.ValidateSandboxId(id)).Message);
        Assert.Equal("Container ID cannot be empty", Assert.Throws<InvalidSandboxArgumentException>(() => SandboxIds.ValidateContainerId(id)).Message);
    }

    [Fact]
    public void A_long_id_is_shortened_in_the_message()
    {
        var ex = Assert.Throws<InvalidSandboxArgumentException>(() => SandboxIds.ValidateSandboxId(new string('y', 500)));
        Assert.Contains(new string('y', 40) + "…", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('y', 41), ex.Message, StringComparison.Ordinal);
    }
}
