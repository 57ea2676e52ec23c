using System.CommandLine;

namespace KataWorkflows.Cli.Commands;

/// <summary>The argument and options of <c>kwf sandbox create|run</c>: a config file and flags for its common fields.</summary>
internal sealed class SandboxConfigOptions
{
    public Argument<string?> Id { get; } = new("sandbox") { Description = "Sandbox id (or the id in --config)", Arity = ArgumentArity.ZeroOrOne };

    public Option<string?> Config { get; } = new("--config", "-c") { Description = "SandboxConfig JSON file ('-' for stdin); flags override its fields" };

    public Option<string?> Hypervisor { get; } = new("--hypervisor") { Description = "Hypervisor type: qemu or mock" };

    public Option<string?> Agent { get; } = new("--agent") { Description = "Agent type: kata or noop" };

    public Option<string[]> Containers { get; } = new("--container") { Description = "Add a container with this id (repeat)" };

    public Option<string[]> Annotations { get; } = new("--annotation", "-a") { Description = "Annotation KEY=VALUE (repeat)" };

    public Option<string?> Hostname { get; } = new("--hostname") { Description = "Hostname of the sandbox" };

    public Option<string?> Kernel { get; } = new("--kernel") { Description = "Guest kernel path" };

    public Option<string?> Image { get; } = new("--image") { Description = "Guest image path" };

    public Option<int?> VCpus { get; } = new("--vcpus") { Description = "Number of vCPUs" };

    public Option<int?> MemoryMiB { get; } = new("--memory-mib") { Description = "Guest memory in MiB" };

    public Option<string?> NetNs { get; } = new("--netns") { Description = "Network namespace path" };

    public Option<string?> InterworkingModel { get; } = new("--interworking-model") { Description = "Network interworking model: tcfilter, macvtap or none" };

    public IEnumerable<Option> All => [Config, Hypervisor, Agent, Containers, Annotations, Hostname, Kernel, Image, VCpus, MemoryMiB, NetNs, InterworkingModel];
}
