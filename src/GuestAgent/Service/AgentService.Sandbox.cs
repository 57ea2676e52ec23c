using System.Globalization;
using System.Reflection;
using Grpc.Core;
using Empty = Google.Protobuf.WellKnownTypes.Empty;
using KataWorkflows.GuestAgent.Containers;
using KataWorkflows.GuestAgent.Network;
using KataWorkflows.GuestAgent.Native;
using KataWorkflows.Protocol.Agent;
using KataWorkflows.Protocol.Agent.Types;
using KataWorkflows.Protocol.Ttrpc;

namespace KataWorkflows.GuestAgent.Service;

internal sealed partial class AgentService
{
    /// <summary>The API version Kata's agent reports (its protocols' APIVersion).</summary>
    public const string ApiVersion = "0.0.1";

    private const int MaxHostNameLength = 64;

    public static string AgentVersion =>
        typeof(AgentService).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    public Task<HealthCheckResponse> CheckAsync(CheckRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.Serving });

    public Task<VersionCheckResponse> VersionAsync(CheckRequest request, CancellationToken cancellationToken) =>
        Task.FromResult(new VersionCheckResponse { GrpcVersion = ApiVersion, AgentVersion = AgentVersion });

    public async Task<Empty> CreateSandboxAsync(CreateSandboxRequest request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_sandboxRunning)
            {
                throw new TtrpcException(StatusCode.AlreadyExists, "Sandbox already started, impossible to start again");
            }
            if (request.SandboxPidns)
            {
                throw new TtrpcException(StatusCode.Unimplemented, "a sandbox-wide PID namespace (sandbox_pidns) is not supported by this agent");
            }
            if (request.Hostname.Length > MaxHostNameLength)
            {
                throw new TtrpcException(StatusCode.InvalidArgument, $"hostname \"{request.Hostname}\" is longer than {MaxHostNameLength} characters");
            }
            foreach (var module in request.KernelModules)
            {
                await LoadModuleAsync(module, cancellationToken).ConfigureAwait(false);
            }
            if (request.Hostname.Length > 0)
            {
                Libc.SetHostName(request.Hostname);
            }
            await IpTool.WriteResolvConfAsync(request.Dns, cancellationToken).ConfigureAwait(false);
            _sandboxMounts = StorageMounter.MountAll(request.Storages);
            _sandboxId = string.IsNullOrEmpty(request.SandboxId) ? request.Hostname : request.SandboxId;
            _sandboxRunning = true;
            Logs.SandboxCreated(logger, _sandboxId, _sandboxMounts.Count);
            return new Empty();
        }
        finally
        {
            _gate.Release();
        }
    }

    public async Task<Empty> DestroySandboxAsync(DestroySandboxRequest request, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (!_sandboxRunning)
            {
                Logs.DestroyNoOp(logger);
                return new Empty();
            }
            Container[] containers;
            lock (_containers)
            {
                containers = [.. _containers.Values];
            }
            foreach (var container in containers)
            {
                await DestroyAsync(container, cancellationToken).ConfigureAwait(false);
                lock (_containers)
                {
                    _containers.Remove(container.Id);
                }
            }
            StorageMounter.UnmountAll(_sandboxMounts);
            _sandboxMounts = [];
            Logs.SandboxDestroyed(logger, _sandboxId);
            _sandboxId = "";
            _sandboxRunning = false;
            Libc.Sync();
            return new Empty();
        }
        finally
        {
            _gate.Release();
        }
    }

    private static async Task LoadModuleAsync(KernelModule module, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(module.Name) || module.Name.Contains('/', StringComparison.Ordinal))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"kernel module name \"{module.Name}\" is not valid");
        }
        if (Directory.Exists($"/sys/module/{module.Name.Replace('-', '_')}"))
        {
            return;
        }
        var release = (await IpTool.RunAsync(["uname", "-r"], cancellationToken).ConfigureAwait(false)).Trim();
        var file = $"/lib/modules/{release}/{module.Name}.ko";
        if (!File.Exists(file))
        {
            throw new TtrpcException(StatusCode.NotFound, $"kernel module {module.Name} is not in the guest image ({file})");
        }
        await IpTool.RunAsync(["insmod", file, .. module.Parameters], cancellationToken).ConfigureAwait(false);
    }

    public async Task<Interface> UpdateInterfaceAsync(UpdateInterfaceRequest request, CancellationToken cancellationToken)
    {
        var wanted = request.Interface ?? throw new TtrpcException(StatusCode.InvalidArgument, "UpdateInterface: the request has no interface");
        var links = await IpTool.ListLinksAsync(cancellationToken).ConfigureAwait(false);
        // Kata finds the link by its MAC address (the name the guest gave it may differ); by name when no MAC is given.
        var link = wanted.HwAddr.Length > 0
            ? links.FirstOrDefault(l => string.Equals(l.HardwareAddress, wanted.HwAddr, StringComparison.OrdinalIgnoreCase))
            : links.FirstOrDefault(l => l.Name == wanted.Name);
        if (link is null)
        {
            throw new TtrpcException(StatusCode.NotFound, wanted.HwAddr.Length > 0
                ? $"Could not find the link corresponding to HwAddr \"{wanted.HwAddr}\""
                : $"Could not find the link named \"{wanted.Name}\"");
        }
        var addresses = new List<LinkAddress>();
        foreach (var address in wanted.IPAddresses)
        {
            var family = address.Family == IPFamily.V6 ? 6 : 4;
            if (!int.TryParse(address.Mask, NumberStyles.None, CultureInfo.InvariantCulture, out var prefix) || prefix > (family == 4 ? 32 : 128))
            {
                throw new TtrpcException(StatusCode.InvalidArgument, $"address {address.Address}: mask \"{address.Mask}\" is not a prefix length");
            }
            if (!System.Net.IPAddress.TryParse(address.Address, out _))
            {
                throw new TtrpcException(StatusCode.InvalidArgument, $"address \"{address.Address}\" is not an IP address");
            }
            addresses.Add(new LinkAddress(family, address.Address, prefix));
        }
        try
        {
            await IpTool.UpdateLinkAsync(link.Name, wanted.Name, wanted.Mtu, addresses, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException error)
        {
            throw new TtrpcException(StatusCode.Internal, $"UpdateInterface {link.Name}: {error.Message}");
        }
        var name = wanted.Name.Length > 0 ? wanted.Name : link.Name;
        var updated = (await IpTool.ListLinksAsync(cancellationToken).ConfigureAwait(false)).First(l => l.Name == name);
        return ToInterface(updated);
    }

    public async Task<Routes> UpdateRoutesAsync(UpdateRoutesRequest request, CancellationToken cancellationToken)
    {
        var wanted = request.Routes?.Routes_ ?? [];
        try
        {
            await IpTool.FlushRoutesAsync(cancellationToken).ConfigureAwait(false);
            // Routes through a gateway need the link route to it: add the link routes first, as Kata's agent does.
            foreach (var route in wanted.OrderBy(r => r.Gateway.Length > 0))
            {
                var family = route.Family == IPFamily.V6 || route.Dest.Contains(':', StringComparison.Ordinal)
                    || route.Gateway.Contains(':', StringComparison.Ordinal) ? 6 : 4;
                await IpTool.AddRouteAsync(new RouteInfo(route.Dest is "default" ? "" : route.Dest, route.Gateway, route.Device,
                    route.Source, route.Scope, family), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (InvalidOperationException error)
        {
            throw new TtrpcException(StatusCode.Internal, $"UpdateRoutes: {error.Message}");
        }
        return await ListRoutesAsync(new ListRoutesRequest(), cancellationToken).ConfigureAwait(false);
    }

    public async Task<Interfaces> ListInterfacesAsync(ListInterfacesRequest request, CancellationToken cancellationToken)
    {
        var response = new Interfaces();
        response.Interfaces_.AddRange((await IpTool.ListLinksAsync(cancellationToken).ConfigureAwait(false)).Select(ToInterface));
        return response;
    }

    public async Task<Routes> ListRoutesAsync(ListRoutesRequest request, CancellationToken cancellationToken)
    {
        var response = new Routes();
        foreach (var route in await IpTool.ListRoutesAsync(cancellationToken).ConfigureAwait(false))
        {
            response.Routes_.Add(new Route
            {
                Dest = route.Destination,
                Gateway = route.Gateway,
                Device = route.Device,
                Source = route.Source,
                Scope = route.Scope,
                Family = route.Family == 6 ? IPFamily.V6 : IPFamily.V4,
            });
        }
        return response;
    }

    private static Interface ToInterface(LinkInfo link)
    {
        var result = new Interface
        {
            Device = link.Name,
            Name = link.Name,
            Mtu = link.Mtu,
            HwAddr = link.HardwareAddress,
            Type = link.Type,
            RawFlags = link.Flags,
        };
        result.IPAddresses.AddRange(link.Addresses.Select(a => new IPAddress
        {
            Family = a.Family == 6 ? IPFamily.V6 : IPFamily.V4,
            Address = a.Address,
            Mask = a.PrefixLength.ToString(CultureInfo.InvariantCulture),
        }));
        return result;
    }

    private static IEnumerable<NetworkStats> ReadNetworkStats()
    {
        // /proc/net/dev: "  eth0: rx_bytes rx_packets rx_errs rx_drop fifo frame compressed multicast tx_bytes tx_packets tx_errs tx_drop ..."
        foreach (var line in File.ReadLines("/proc/net/dev").Skip(2))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                continue;
            }
            var values = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
                .Select(v => ulong.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            if (values.Length < 12)
            {
                continue;
            }
            yield return new NetworkStats
            {
                Name = line[..colon].Trim(),
                RxBytes = values[0],
                RxPackets = values[1],
                RxErrors = values[2],
                RxDropped = values[3],
                TxBytes = values[8],
                TxPackets = values[9],
                TxErrors = values[10],
                TxDropped = values[11],
            };
        }
    }

    public Task<GuestDetailsResponse> GetGuestDetailsAsync(GuestDetailsRequest request, CancellationToken cancellationToken)
    {
        var response = new GuestDetailsResponse
        {
            AgentDetails = new AgentDetails
            {
                Version = AgentVersion,
                InitDaemon = Environment.ProcessId == 1,
                SupportsSeccomp = false,
            },
        };
        response.AgentDetails.StorageHandlers.AddRange(StorageMounter.Drivers);
        const string blockSize = "/sys/devices/system/memory/block_size_bytes";
        if (request.MemBlockSize && File.Exists(blockSize))
        {
            response.MemBlockSizeBytes = Convert.ToUInt64(File.ReadAllText(blockSize).Trim(), 16);
        }
        if (request.MemHotplugProbe)
        {
            response.SupportMemHotplugProbe = File.Exists("/sys/devices/system/memory/probe");
        }
        return Task.FromResult(response);
    }

    public async Task<Empty> OnlineCpuMemAsync(OnlineCPUMemRequest request, CancellationToken cancellationToken)
    {
        if (request.NbCpus == 0)
        {
            throw new TtrpcException(StatusCode.Unknown, $"requested number of CPUs '{request.NbCpus}' must be greater than 0");
        }
        var online = OnlineResources("/sys/devices/system/cpu", "cpu", (int)request.NbCpus);
        if (!request.CpuOnly)
        {
            OnlineResources("/sys/devices/system/memory", "memory", int.MaxValue);
        }
        Logs.OnlinedCpus(logger, online, request.NbCpus);
        await Task.CompletedTask.ConfigureAwait(false);
        return new Empty();
    }

    /// <summary>Writes 1 to the <c>online</c> file of up to <paramref name="limit"/> offline resources; how many it onlined.</summary>
    private static int OnlineResources(string directory, string prefix, int limit)
    {
        var count = 0;
        if (!Directory.Exists(directory))
        {
            return 0;
        }
        foreach (var entry in Directory.EnumerateDirectories(directory, prefix + "*").Order(StringComparer.Ordinal))
        {
            var name = Path.GetFileName(entry);
            var online = Path.Join(entry, "online");
            if (count >= limit || !name[prefix.Length..].All(char.IsAsciiDigit) || name.Length == prefix.Length || !File.Exists(online))
            {
                continue;
            }
            if (File.ReadAllText(online).Trim() == "0")
            {
                File.WriteAllText(online, "1");
                count++;
            }
        }
        return count;
    }

    public Task<Empty> SetGuestDateTimeAsync(SetGuestDateTimeRequest request, CancellationToken cancellationToken)
    {
        if (request.Usec is < 0 or >= 1_000_000)
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"Usec {request.Usec} is not between 0 and 999999");
        }
        Libc.SetRealtimeClock(request.Sec, request.Usec);
        return Task.FromResult(new Empty());
    }

    public async Task<Empty> CopyFileAsync(CopyFileRequest request, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(request.Path) || !request.Path.StartsWith('/'))
        {
            throw new TtrpcException(StatusCode.InvalidArgument, $"CopyFile: path \"{request.Path}\" is not absolute");
        }
        if (request.Offset < 0 || request.Offset + request.Data.Length > request.FileSize)
        {
            throw new TtrpcException(StatusCode.InvalidArgument,
                $"CopyFile {request.Path}: offset {request.Offset} + {request.Data.Length} bytes is past the file size {request.FileSize}");
        }
        var directory = Path.GetDirectoryName(request.Path)!;
        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, request.DirMode == 0 ? (UnixFileMode)0b111_101_101 : (UnixFileMode)(request.DirMode & 0xFFF));
        }
        // The parts go to a temporary file that becomes the file once its last byte arrived, as Kata's agent does.
        var temporary = request.Path + ".kata-copy";
        var stream = new FileStream(temporary, request.Offset == 0 ? FileMode.Create : FileMode.OpenOrCreate, FileAccess.Write);
        await using (stream.ConfigureAwait(false))
        {
            stream.Seek(request.Offset, SeekOrigin.Begin);
            await stream.WriteAsync(request.Data.Memory, cancellationToken).ConfigureAwait(false);
        }
        if (request.Offset + request.Data.Length == request.FileSize)
        {
            File.SetUnixFileMode(temporary, (UnixFileMode)(request.FileMode & 0xFFF));
            Libc.Chown(temporary, request.Uid, request.Gid);
            File.Move(temporary, request.Path, overwrite: true);
        }
        return new Empty();
    }
}
