using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using Grpc.Core;
using KataWorkflows.Cli.Output;
using KataWorkflows.Orchestrations.Model;
using KataWorkflows.Orchestrations.Sandboxes;
using KataWorkflows.Protocol.V1;

namespace KataWorkflows.Cli.Commands;

/// <summary>The sandbox, container, network, device and cleanup commands: one per call of the Sandboxes API.</summary>
internal static class SandboxCommands
{
    private delegate AsyncUnaryCall<CallResult> Rpc(Sandboxes.SandboxesClient client, SandboxCall call, CallOptions options);

    public static Command Sandbox(KwfApp app)
    {
        var command = new Command("sandbox", "Sandbox lifecycle: create, run, start, stop, delete, pause, resume; status, list, stats");
        command.Subcommands.Add(CreateOrRun(app, "create", "Create a sandbox (network, VM, containers) without starting its containers", SandboxOrchestrations.CreateSandbox, (c, a, o) => c.CreateSandboxAsync(a, o)));
        command.Subcommands.Add(CreateOrRun(app, "run", "Create a sandbox and start it", SandboxOrchestrations.RunSandbox, (c, a, o) => c.RunSandboxAsync(a, o)));
        command.Subcommands.Add(SandboxOnly(app, "start", "Start a sandbox and its containers", SandboxOrchestrations.StartSandbox, (c, a, o) => c.StartSandboxAsync(a, o)));
        command.Subcommands.Add(SandboxOnly(app, "stop", "Stop a sandbox (--force: record driver errors and go on)", SandboxOrchestrations.StopSandbox, (c, a, o) => c.StopSandboxAsync(a, o), withForce: true));
        command.Subcommands.Add(SandboxOnly(app, "delete", "Delete a stopped sandbox", SandboxOrchestrations.DeleteSandbox, (c, a, o) => c.DeleteSandboxAsync(a, o)));
        command.Subcommands.Add(SandboxOnly(app, "pause", "Pause a running sandbox", SandboxOrchestrations.PauseSandbox, (c, a, o) => c.PauseSandboxAsync(a, o)));
        command.Subcommands.Add(SandboxOnly(app, "resume", "Resume a paused sandbox", SandboxOrchestrations.ResumeSandbox, (c, a, o) => c.ResumeSandboxAsync(a, o)));

        var statusId = SandboxArgument();
        var status = new Command("status", "A sandbox's state and its containers") { statusId };
        app.SetAction(status, async inv =>
        {
            var reply = await inv.Sandboxes.StatusSandboxAsync(new SandboxRef { SandboxId = inv.Parse.GetRequiredValue(statusId) }, inv.CallOptions).ConfigureAwait(false);
            return await WriteAsync(inv, JsonText.ParseOrString(reply.StatusJson), SandboxView.Status).ConfigureAwait(false);
        });
        command.Subcommands.Add(status);

        var list = new Command("list", "Every sandbox with its state");
        app.SetAction(list, async inv =>
        {
            var reply = await inv.Sandboxes.ListSandboxAsync(new ListRequest(), inv.CallOptions).ConfigureAwait(false);
            var array = new JsonArray(reply.SandboxesJson.Select(JsonText.ParseOrString).ToArray());
            return await WriteAsync(inv, array, node => SandboxView.Sandboxes((JsonArray)node!)).ConfigureAwait(false);
        });
        command.Subcommands.Add(list);

        var statsId = SandboxArgument();
        var stats = new Command("stats", "Live statistics of a sandbox (from its VM and agent)") { statsId };
        app.SetAction(stats, async inv =>
        {
            var reply = await inv.Sandboxes.StatsSandboxAsync(new SandboxRef { SandboxId = inv.Parse.GetRequiredValue(statsId) }, inv.CallOptions).ConfigureAwait(false);
            return await WriteAsync(inv, JsonText.ParseOrString(reply.StatsJson), JsonText.Human).ConfigureAwait(false);
        });
        command.Subcommands.Add(stats);
        return command;
    }

    public static Command Container(KwfApp app)
    {
        var command = new Command("container", "Container calls: create, start, stop, delete, kill, exec, update, pause, resume; status, ps, stats");

        var createSandbox = SandboxArgument();
        var createId = new Argument<string?>("container") { Description = "Container id (or the id in --config)", Arity = ArgumentArity.ZeroOrOne };
        var config = ConfigOption("ContainerConfig JSON file ('-' for stdin)");
        var rootfs = new Option<string?>("--rootfs") { Description = "Root file system of the container" };
        var annotations = AnnotationOption();
        var args = new Option<string[]>("--arg") { Description = "Argument of the container's process (repeat, in order)", AllowMultipleArgumentsPerToken = false };
        var create = new Command("create", "Create a container in a sandbox") { createSandbox, createId, config, rootfs, annotations, args };
        AddMutating(app, create, SandboxOrchestrations.CreateContainer, (c, a, o) => c.CreateContainerAsync(a, o), inv =>
        {
            var containerConfig = inv.Parse.GetValue(config) is { } path
                ? JsonInput.Parse<ContainerConfig>(JsonInput.ReadText(path, "--config", app.In), path == "-" ? "stdin" : path)
                : new ContainerConfig();
            if (inv.Parse.GetValue(createId) is { } id)
            {
                containerConfig = containerConfig.Id.Length == 0 || containerConfig.Id == id
                    ? containerConfig with { Id = id }
                    : throw CliException.Usage($"container id '{id}' differs from the id '{containerConfig.Id}' in --config");
            }

            if (inv.Parse.GetValue(rootfs) is { } r)
            {
                containerConfig = containerConfig with { RootFs = r };
            }

            if (inv.Parse.GetValue(args) is { Length: > 0 } a)
            {
                containerConfig = containerConfig with { Cmd = containerConfig.Cmd with { Args = a } };
            }

            containerConfig = containerConfig with { Annotations = Merge(containerConfig.Annotations, Annotations(inv, annotations)) };
            if (containerConfig.Id.Length == 0)
            {
                throw CliException.Usage("a container id is required: give it as the second argument or as \"id\" in --config");
            }

            return new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(createSandbox), ContainerId = containerConfig.Id, Container = containerConfig };
        });
        command.Subcommands.Add(create);

        command.Subcommands.Add(ContainerCall(app, "start", "Start a created container", SandboxOrchestrations.StartContainer, (c, a, o) => c.StartContainerAsync(a, o)));
        var stopForce = ForceOption();
        command.Subcommands.Add(ContainerCall(app, "stop", "Stop a container (--force: record driver errors and go on)", SandboxOrchestrations.StopContainer, (c, a, o) => c.StopContainerAsync(a, o), [stopForce], (inv, r) => r with { Force = inv.Parse.GetValue(stopForce) }));
        command.Subcommands.Add(ContainerCall(app, "delete", "Delete a stopped container", SandboxOrchestrations.DeleteContainer, (c, a, o) => c.DeleteContainerAsync(a, o)));
        command.Subcommands.Add(ContainerCall(app, "pause", "Pause a container", SandboxOrchestrations.PauseContainer, (c, a, o) => c.PauseContainerAsync(a, o)));
        command.Subcommands.Add(ContainerCall(app, "resume", "Resume a paused container", SandboxOrchestrations.ResumeContainer, (c, a, o) => c.ResumeContainerAsync(a, o)));

        var signal = new Option<string>("--signal", "-s") { Description = "Signal number or name (TERM, KILL, SIGINT...)", DefaultValueFactory = _ => "TERM" };
        var all = new Option<bool>("--all") { Description = "Signal every process of the container" };
        command.Subcommands.Add(ContainerCall(app, "kill", "Send a signal to a container's processes", SandboxOrchestrations.KillContainer, (c, a, o) => c.KillContainerAsync(a, o), [signal, all],
            (inv, r) => r with { Signal = ParseSignal(inv.Parse.GetValue(signal)!), All = inv.Parse.GetValue(all) }));

        var cmd = new Argument<string[]>("command") { Description = "The program and its arguments (after --)", Arity = ArgumentArity.OneOrMore };
        var env = new Option<string[]>("--env", "-e") { Description = "Environment variable NAME=VALUE (repeat)" };
        var cwd = new Option<string>("--cwd") { Description = "Working directory", DefaultValueFactory = _ => "/" };
        var user = new Option<string?>("--user", "-u") { Description = "User to run as" };
        var wait = new Option<bool>("--wait", "-w") { Description = "Wait for the process to exit; print its exit status, stdout and stderr (64 KiB of each at most)" };
        command.Subcommands.Add(ContainerCall(app, "exec", "Run a process in a container (EnterContainer)", SandboxOrchestrations.EnterContainer, (c, a, o) => c.EnterContainerAsync(a, o), [env, cwd, user, wait],
            (inv, r) =>
            {
                var envs = inv.Parse.GetValue(env) ?? [];
                foreach (var e in envs.Where(e => !e.Contains('=', StringComparison.Ordinal) || e.StartsWith('=')))
                {
                    throw CliException.Usage($"--env must be NAME=VALUE, got '{e}'");
                }

                return r with { Cmd = new Cmd { Args = inv.Parse.GetRequiredValue(cmd), Envs = envs, WorkDir = inv.Parse.GetValue(cwd)!, User = inv.Parse.GetValue(user), Wait = inv.Parse.GetValue(wait) } };
            }, cmd));

        var resourcesConfig = ConfigOption("ContainerResources JSON file ('-' for stdin)");
        var cpuPeriod = new Option<long?>("--cpu-period") { Description = "CPU CFS period (microseconds)" };
        var cpuQuota = new Option<long?>("--cpu-quota") { Description = "CPU CFS quota (microseconds)" };
        var memory = new Option<long?>("--memory") { Description = "Memory limit in bytes" };
        command.Subcommands.Add(ContainerCall(app, "update", "Change a container's resource limits", SandboxOrchestrations.UpdateContainer, (c, a, o) => c.UpdateContainerAsync(a, o), [resourcesConfig, cpuPeriod, cpuQuota, memory],
            (inv, r) =>
            {
                var resources = inv.Parse.GetValue(resourcesConfig) is { } path
                    ? JsonInput.Parse<ContainerResources>(JsonInput.ReadText(path, "--config", app.In), path == "-" ? "stdin" : path)
                    : new ContainerResources();
                resources = resources with
                {
                    CpuPeriod = inv.Parse.GetValue(cpuPeriod) ?? resources.CpuPeriod,
                    CpuQuota = inv.Parse.GetValue(cpuQuota) ?? resources.CpuQuota,
                    MemoryLimitBytes = inv.Parse.GetValue(memory) ?? resources.MemoryLimitBytes,
                };
                if (resources.CpuPeriod is null && resources.CpuQuota is null && resources.MemoryLimitBytes is null)
                {
                    throw CliException.Usage("update needs --config, --cpu-period, --cpu-quota or --memory");
                }

                Validate(() => resources.Validate("resources"));
                return r with { Resources = resources };
            }));

        command.Subcommands.Add(ContainerRead(app, "status", "A container's state", async (inv, target) =>
            JsonText.ParseOrString((await inv.Sandboxes.StatusContainerAsync(target, inv.CallOptions).ConfigureAwait(false)).StatusJson), SandboxView.Status));
        command.Subcommands.Add(ContainerRead(app, "ps", "The processes running in a container", async (inv, target) =>
            JsonText.ParseOrString((await inv.Sandboxes.ProcessListContainerAsync(target, inv.CallOptions).ConfigureAwait(false)).ProcessesJson), JsonText.Human));
        command.Subcommands.Add(ContainerRead(app, "stats", "Live statistics of a container", async (inv, target) =>
            JsonText.ParseOrString((await inv.Sandboxes.StatsContainerAsync(target, inv.CallOptions).ConfigureAwait(false)).StatsJson), JsonText.Human));
        return command;
    }

    public static Command Network(KwfApp app)
    {
        var command = new Command("network", "Sandbox network: interfaces and routes");
        var ifacesId = SandboxArgument();
        var ifaces = new Command("ifaces", "The sandbox's interfaces") { ifacesId };
        app.SetAction(ifaces, async inv =>
        {
            var reply = await inv.Sandboxes.ListInterfacesAsync(new SandboxRef { SandboxId = inv.Parse.GetRequiredValue(ifacesId) }, inv.CallOptions).ConfigureAwait(false);
            return await WriteAsync(inv, JsonText.ParseOrString(reply.Json), JsonText.Human).ConfigureAwait(false);
        });
        command.Subcommands.Add(ifaces);

        var routesId = SandboxArgument();
        var routes = new Command("routes", "The sandbox's routes") { routesId };
        app.SetAction(routes, async inv =>
        {
            var reply = await inv.Sandboxes.ListRoutesAsync(new SandboxRef { SandboxId = inv.Parse.GetRequiredValue(routesId) }, inv.CallOptions).ConfigureAwait(false);
            return await WriteAsync(inv, JsonText.ParseOrString(reply.Json), JsonText.Human).ConfigureAwait(false);
        });
        command.Subcommands.Add(routes);

        command.Subcommands.Add(InterfaceCall(app, "add-iface", "Add a network interface to the sandbox", SandboxOrchestrations.AddInterface, (c, a, o) => c.AddInterfaceAsync(a, o)));
        command.Subcommands.Add(InterfaceCall(app, "rm-iface", "Remove a network interface from the sandbox", SandboxOrchestrations.RemoveInterface, (c, a, o) => c.RemoveInterfaceAsync(a, o)));

        var updateId = SandboxArgument();
        var routesConfig = ConfigOption("JSON file with the array of routes ('-' for stdin)");
        var route = new Option<string[]>("--route") { Description = "A route DEST[,via=GATEWAY][,dev=DEVICE][,src=SOURCE][,scope=N] (repeat)" };
        var update = new Command("update-routes", "Replace the sandbox's routes") { updateId, routesConfig, route };
        AddMutating(app, update, SandboxOrchestrations.UpdateRoutes, (c, a, o) => c.UpdateRoutesAsync(a, o), inv =>
        {
            var list = new List<RouteRecord>();
            if (inv.Parse.GetValue(routesConfig) is { } path)
            {
                list.AddRange(JsonInput.Parse<List<RouteRecord>>(JsonInput.ReadText(path, "--config", app.In), path == "-" ? "stdin" : path));
            }

            list.AddRange((inv.Parse.GetValue(route) ?? []).Select(ParseRoute));
            if (inv.Parse.GetValue(routesConfig) is null && list.Count == 0)
            {
                throw CliException.Usage("update-routes needs --config FILE or --route (an empty --config array clears the routes)");
            }

            return new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(updateId), Routes = list };
        });
        command.Subcommands.Add(update);
        return command;
    }

    public static Command Device(KwfApp app)
    {
        var command = new Command("device", "Devices of a sandbox");
        var id = SandboxArgument();
        var config = ConfigOption("DeviceRecord JSON file ('-' for stdin)");
        var deviceId = new Option<string?>("--id") { Description = "Device id" };
        var hostPath = new Option<string?>("--host-path") { Description = "Device path on the host" };
        var containerPath = new Option<string?>("--container-path") { Description = "Device path in the container" };
        var type = new Option<string?>("--type") { Description = "Device type: b (block), c (character), u (unbuffered)" };
        var major = new Option<long?>("--major") { Description = "Major number" };
        var minor = new Option<long?>("--minor") { Description = "Minor number" };
        var add = new Command("add", "Hot-plug a device into the sandbox") { id, config, deviceId, hostPath, containerPath, type, major, minor };
        AddMutating(app, add, SandboxOrchestrations.AddDevice, (c, a, o) => c.AddDeviceAsync(a, o), inv =>
        {
            DeviceRecord? device = inv.Parse.GetValue(config) is { } path
                ? JsonInput.Parse<DeviceRecord>(JsonInput.ReadText(path, "--config", app.In), path == "-" ? "stdin" : path)
                : null;
            var newId = inv.Parse.GetValue(deviceId) ?? device?.Id;
            var newHostPath = inv.Parse.GetValue(hostPath) ?? device?.HostPath;
            if (string.IsNullOrEmpty(newId) || string.IsNullOrEmpty(newHostPath))
            {
                throw CliException.Usage("device add needs --id and --host-path (or --config with \"id\" and \"hostPath\")");
            }

            var devType = inv.Parse.GetValue(type) ?? device?.DevType ?? "b";
            if (devType is not ("b" or "c" or "u"))
            {
                throw CliException.Usage($"--type must be b, c or u, got '{devType}'");
            }

            device = new DeviceRecord
            {
                Id = newId,
                HostPath = newHostPath,
                ContainerPath = inv.Parse.GetValue(containerPath) ?? device?.ContainerPath ?? string.Empty,
                DevType = devType,
                Major = inv.Parse.GetValue(major) ?? device?.Major ?? 0,
                Minor = inv.Parse.GetValue(minor) ?? device?.Minor ?? 0,
            };
            return new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(id), Device = device };
        });
        command.Subcommands.Add(add);
        return command;
    }

    public static Command Cleanup(KwfApp app)
    {
        var sandbox = SandboxArgument();
        var container = ContainerArgument();
        var force = ForceOption();
        var command = new Command("cleanup", "Stop and delete a container; with the last one, stop and delete the sandbox (CleanupContainer)") { sandbox, container, force };
        AddMutating(app, command, SandboxOrchestrations.CleanupContainer, (c, a, o) => c.CleanupContainerAsync(a, o), inv => new SandboxRequest
        {
            SandboxId = inv.Parse.GetRequiredValue(sandbox),
            ContainerId = inv.Parse.GetRequiredValue(container),
            Force = inv.Parse.GetValue(force),
        });
        return command;
    }

    /// <summary>Reads a signal: a number, or a name with or without the SIG prefix.</summary>
    /// <exception cref="CliException">Unknown signal.</exception>
    internal static int ParseSignal(string text)
    {
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and < 65)
        {
            return number;
        }

        var name = text.Trim().ToUpperInvariant();
        name = name.StartsWith("SIG", StringComparison.Ordinal) ? name[3..] : name;
        return name switch
        {
            "HUP" => 1, "INT" => 2, "QUIT" => 3, "ILL" => 4, "TRAP" => 5, "ABRT" => 6, "BUS" => 7, "FPE" => 8, "KILL" => 9,
            "USR1" => 10, "SEGV" => 11, "USR2" => 12, "PIPE" => 13, "ALRM" => 14, "TERM" => 15, "CHLD" => 17, "CONT" => 18,
            "STOP" => 19, "TSTP" => 20, "TTIN" => 21, "TTOU" => 22, "WINCH" => 28,
            _ => throw CliException.Usage($"--signal: unknown signal '{text}' (a number 1-64 or a name like TERM, KILL, SIGINT)"),
        };
    }

    /// <summary>Reads <c>DEST[,via=GW][,dev=DEV][,src=SRC][,scope=N]</c>.</summary>
    /// <exception cref="CliException">A malformed route.</exception>
    internal static RouteRecord ParseRoute(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts[0].Length == 0 || parts[0].Contains('=', StringComparison.Ordinal))
        {
            throw CliException.Usage($"--route must start with the destination (e.g. 10.0.0.0/24,via=10.0.0.1,dev=eth0), got '{text}'");
        }

        var route = new RouteRecord { Dest = parts[0] };
        foreach (var part in parts.Skip(1))
        {
            var pair = part.Split('=', 2);
            route = (pair[0], pair.Length == 2 ? pair[1] : null) switch
            {
                ("via", { Length: > 0 } v) => route with { Gateway = v },
                ("dev", { Length: > 0 } v) => route with { Device = v },
                ("src", { Length: > 0 } v) => route with { Source = v },
                ("scope", { } v) when int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var scope) => route with { Scope = scope },
                _ => throw CliException.Usage($"--route: '{part}' in '{text}' is not via=, dev=, src= or scope=N"),
            };
        }

        return route;
    }

    /// <summary>
    /// The config as the host will see it once it filled its defaults in (KataWorkflows:Sandboxes), for the local check
    /// only: what is left empty is sent empty. The host checks the filled config again and names the field if its
    /// defaults do not make it valid.
    /// </summary>
    private static SandboxConfig AsHostFillsIt(SandboxConfig config)
    {
        var hypervisor = config.HypervisorConfig;
        return config with
        {
            NetworkConfig = config.NetworkConfig.InterworkingModel.Length == 0 ? config.NetworkConfig with { InterworkingModel = "none" } : config.NetworkConfig,
            HypervisorConfig = hypervisor with
            {
                KernelPath = string.IsNullOrEmpty(hypervisor.KernelPath) ? "(the host's guest image)" : hypervisor.KernelPath,
                InitrdPath = string.IsNullOrEmpty(hypervisor.ImagePath) && string.IsNullOrEmpty(hypervisor.InitrdPath) ? "(the host's guest image)" : hypervisor.InitrdPath,
            },
        };
    }

    private static readonly SandboxConfig NoDriverTypes = new() { HypervisorType = string.Empty, AgentType = string.Empty, NetworkConfig = new NetworkConfig { InterworkingModel = string.Empty } };

    /// <summary>Builds the configuration of create/run from --config and the flags (flags win).</summary>
    internal static SandboxConfig BuildSandboxConfig(ParseResult parse, SandboxConfigOptions options, TextReader stdin)
    {
        // The driver types a config leaves out are sent empty, so the host applies its own defaults
        // (KataWorkflows:Sandboxes) rather than the model's.
        var config = NoDriverTypes;
        if (parse.GetValue(options.Config) is { } path)
        {
            var text = JsonInput.ReadText(path, "--config", stdin);
            config = JsonInput.Parse<SandboxConfig>(text, path == "-" ? "stdin" : path);
            var given = JsonInput.FieldsGiven(text);
            config = config with
            {
                HypervisorType = given.Contains("hypervisorType") ? config.HypervisorType : string.Empty,
                AgentType = given.Contains("agentType") ? config.AgentType : string.Empty,
                NetworkConfig = given.Contains("networkConfig.interworkingModel") ? config.NetworkConfig : config.NetworkConfig with { InterworkingModel = string.Empty },
            };
        }
        if (parse.GetValue(options.Id) is { } id)
        {
            config = config.Id.Length == 0 || config.Id == id
                ? config with { Id = id }
                : throw CliException.Usage($"sandbox id '{id}' differs from the id '{config.Id}' in --config");
        }

        if (config.Id.Length == 0)
        {
            throw CliException.Usage("a sandbox id is required: give it as the argument or as \"id\" in --config");
        }

        config = config with
        {
            HypervisorType = parse.GetValue(options.Hypervisor) ?? config.HypervisorType,
            AgentType = parse.GetValue(options.Agent) ?? config.AgentType,
            Hostname = parse.GetValue(options.Hostname) ?? config.Hostname,
            Annotations = Merge(config.Annotations, ParseAnnotations(parse.GetValue(options.Annotations))),
            HypervisorConfig = config.HypervisorConfig with
            {
                KernelPath = parse.GetValue(options.Kernel) ?? config.HypervisorConfig.KernelPath,
                ImagePath = parse.GetValue(options.Image) ?? config.HypervisorConfig.ImagePath,
                NumVCpus = parse.GetValue(options.VCpus) ?? config.HypervisorConfig.NumVCpus,
                MemorySizeMiB = parse.GetValue(options.MemoryMiB) ?? config.HypervisorConfig.MemorySizeMiB,
            },
            NetworkConfig = config.NetworkConfig with
            {
                NetNsPath = parse.GetValue(options.NetNs) ?? config.NetworkConfig.NetNsPath,
                InterworkingModel = parse.GetValue(options.InterworkingModel) ?? config.NetworkConfig.InterworkingModel,
            },
        };
        var extra = (parse.GetValue(options.Containers) ?? []).Select(c => new ContainerConfig { Id = c }).ToList();
        if (extra.Count > 0)
        {
            config = config with { Containers = [.. config.Containers, .. extra] };
        }

        return config;
    }

    private static Command CreateOrRun(KwfApp app, string name, string description, string operation, Rpc rpc)
    {
        var options = new SandboxConfigOptions();
        var command = new Command(name, description);
        command.Arguments.Add(options.Id);
        foreach (var option in options.All)
        {
            command.Options.Add(option);
        }

        AddMutating(app, command, operation, rpc, inv =>
        {
            var config = BuildSandboxConfig(inv.Parse, options, app.In);
            return new SandboxRequest { SandboxId = config.Id, Config = config };
        });
        return command;
    }

    private static Command SandboxOnly(KwfApp app, string name, string description, string operation, Rpc rpc, bool withForce = false)
    {
        var id = SandboxArgument();
        var force = ForceOption();
        var command = new Command(name, description) { id };
        if (withForce)
        {
            command.Options.Add(force);
        }

        AddMutating(app, command, operation, rpc, inv => new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(id), Force = withForce && inv.Parse.GetValue(force) });
        return command;
    }

    private static Command ContainerCall(
        KwfApp app, string name, string description, string operation, Rpc rpc, Option[]? options = null,
        Func<Invocation, SandboxRequest, SandboxRequest>? more = null, Argument? trailing = null)
    {
        var sandbox = SandboxArgument();
        var container = ContainerArgument();
        var command = new Command(name, description) { sandbox, container };
        if (trailing is not null)
        {
            command.Arguments.Add(trailing);
        }

        foreach (var option in options ?? [])
        {
            command.Options.Add(option);
        }

        AddMutating(app, command, operation, rpc, inv =>
        {
            var request = new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(sandbox), ContainerId = inv.Parse.GetRequiredValue(container) };
            return more is null ? request : more(inv, request);
        });
        return command;
    }

    private static Command ContainerRead(KwfApp app, string name, string description, Func<Invocation, SandboxRef, Task<JsonNode?>> read, Func<JsonNode?, string> human)
    {
        var sandbox = SandboxArgument();
        var container = ContainerArgument();
        var command = new Command(name, description) { sandbox, container };
        app.SetAction(command, async inv =>
        {
            var target = new SandboxRef { SandboxId = inv.Parse.GetRequiredValue(sandbox), ContainerId = inv.Parse.GetRequiredValue(container) };
            return await WriteAsync(inv, await read(inv, target).ConfigureAwait(false), human).ConfigureAwait(false);
        });
        return command;
    }

    private static Command InterfaceCall(KwfApp app, string name, string description, string operation, Rpc rpc)
    {
        var sandbox = SandboxArgument();
        var config = ConfigOption("InterfaceRecord JSON file ('-' for stdin)");
        var ifName = new Option<string?>("--name") { Description = "Interface name in the guest" };
        var device = new Option<string?>("--device") { Description = "Host-side device" };
        var ips = new Option<string[]>("--ip") { Description = "Address with prefix, e.g. 10.0.0.2/24 (repeat)" };
        var mac = new Option<string?>("--mac") { Description = "Hardware address" };
        var mtu = new Option<int?>("--mtu") { Description = "MTU" };
        var command = new Command(name, description) { sandbox, config, ifName, device, ips, mac, mtu };
        AddMutating(app, command, operation, rpc, inv =>
        {
            var iface = inv.Parse.GetValue(config) is { } path
                ? JsonInput.Parse<InterfaceRecord>(JsonInput.ReadText(path, "--config", app.In), path == "-" ? "stdin" : path)
                : new InterfaceRecord();
            iface = iface with
            {
                Name = inv.Parse.GetValue(ifName) ?? iface.Name,
                Device = inv.Parse.GetValue(device) ?? iface.Device,
                IpAddresses = inv.Parse.GetValue(ips) is { Length: > 0 } list ? list : iface.IpAddresses,
                HwAddr = inv.Parse.GetValue(mac) ?? iface.HwAddr,
                Mtu = inv.Parse.GetValue(mtu) ?? iface.Mtu,
            };
            if (iface.Name.Length == 0 && iface.HwAddr.Length == 0)
            {
                throw CliException.Usage($"{name} needs --name or --mac (or --config with \"name\" or \"hwAddr\")");
            }

            return new SandboxRequest { SandboxId = inv.Parse.GetRequiredValue(sandbox), Interface = iface };
        });
        return command;
    }

    private static void AddMutating(KwfApp app, Command command, string operation, Rpc rpc, Func<Invocation, SandboxRequest> build)
    {
        var stepTimeout = new Option<string?>("--step-timeout") { Description = "Longest one step may take before the call gives up and undoes what it did (e.g. 30s)" };
        command.Options.Add(stepTimeout);
        app.SetAction(command, async inv =>
        {
            var request = build(inv);
            if (inv.Parse.GetValue(stepTimeout) is { } text)
            {
                request = request with { StepTimeout = GlobalOptions.ParseDuration(text, "--step-timeout") };
            }

            Validate(() => SandboxOrchestrations.ValidateRequest(operation, request with { Config = request.Config is { } c ? AsHostFillsIt(c) : null }));
            if (inv.RequestId is { } requestId)
            {
                Validate(() => Orchestrations.Client.SandboxClient.InstanceIdFor(operation, request.SandboxId, requestId));
            }

            var call = new SandboxCall
            {
                SandboxId = request.SandboxId,
                RequestId = inv.RequestId ?? string.Empty,
                Wait = false,
                ArgumentsJson = JsonInput.Serialize(request),
            };
            var started = await rpc(inv.Sandboxes, call, inv.CallOptions).ConfigureAwait(false);
            return await RunFollower.FollowAsync(inv, operation, started).ConfigureAwait(false);
        });
    }

    private static async Task<int> WriteAsync(Invocation inv, JsonNode? node, Func<JsonNode?, string> human)
    {
        if (inv.Json)
        {
            inv.WriteJson(node);
        }
        else
        {
            await inv.Out.WriteAsync(human(node)).ConfigureAwait(false);
        }

        return ExitCodes.Ok;
    }

    private static void Validate(Action check)
    {
        try
        {
            check();
        }
        catch (InvalidSandboxArgumentException ex)
        {
            // Some messages ("Missing kernel path") do not say which field; the field name maps to the file and the flag.
            throw CliException.Usage(ex.Message.Contains(ex.Field, StringComparison.Ordinal) ? ex.Message : $"{ex.Field}: {ex.Message}");
        }
    }

    private static Argument<string> SandboxArgument() => new("sandbox") { Description = "Sandbox id" };

    private static Argument<string> ContainerArgument() => new("container") { Description = "Container id" };

    private static Option<bool> ForceOption() => new("--force", "-f") { Description = "Record driver errors and go on, as Kata's force" };

    private static Option<string?> ConfigOption(string description) => new("--config", "-c") { Description = description };

    private static Option<string[]> AnnotationOption() => new("--annotation", "-a") { Description = "Annotation KEY=VALUE (repeat)" };

    private static Dictionary<string, string> Annotations(Invocation inv, Option<string[]> option) => ParseAnnotations(inv.Parse.GetValue(option));

    internal static Dictionary<string, string> ParseAnnotations(string[]? pairs)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in pairs ?? [])
        {
            var at = pair.IndexOf('=', StringComparison.Ordinal);
            if (at <= 0)
            {
                throw CliException.Usage($"--annotation must be KEY=VALUE, got '{pair}'");
            }

            map[pair[..at]] = pair[(at + 1)..];
        }

        return map;
    }

    private static Dictionary<string, string> Merge(IReadOnlyDictionary<string, string> first, Dictionary<string, string> second)
    {
        var merged = new Dictionary<string, string>(first, StringComparer.Ordinal);
        foreach (var (key, value) in second)
        {
            merged[key] = value;
        }

        return merged;
    }
}
