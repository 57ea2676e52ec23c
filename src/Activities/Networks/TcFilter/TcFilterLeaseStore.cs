using System.Net;
using System.Text.Json;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>
/// The driver's leases, one JSON file (<c>&lt;RunRoot&gt;/network/tcfilter-leases.json</c>, mode 0600 in a 0700
/// directory) mapping each sandbox id to its <see cref="TcFilterLease"/>. Allocation is idempotent (a sandbox that has
/// a lease gets it back) and picks the lowest subnet of the pool no lease holds, so two sandboxes never share one.
/// The file is replaced atomically (a temporary file, flushed to disk, renamed over it): a crash leaves the old file
/// or the new one. One driver instance owns the file; its reads and writes are serialized here (the file is small,
/// so they are synchronous under a lock).
/// </summary>
internal sealed class TcFilterLeaseStore
{
    /// <summary>The file name under <c>&lt;RunRoot&gt;/network</c>.</summary>
    public const string FileName = "tcfilter-leases.json";

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode LeaseFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { WriteIndented = true };

    private readonly Lock _gate = new();
    private readonly IPNetwork _pool;
    private readonly int _subnetPrefix;

    public TcFilterLeaseStore(string runRoot, IPNetwork pool, int subnetPrefix)
    {
        Path = System.IO.Path.Join(runRoot, "network", FileName);
        _pool = pool;
        _subnetPrefix = subnetPrefix;
    }

    /// <summary>The lease file.</summary>
    public string Path { get; }

    /// <summary>How many subnets the pool holds.</summary>
    public long Capacity => 1L << (_subnetPrefix - _pool.PrefixLength);

    /// <summary>Every lease, by sandbox id.</summary>
    public Task<IReadOnlyDictionary<string, TcFilterLease>> ReadAllAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            return Task.FromResult<IReadOnlyDictionary<string, TcFilterLease>>(Read());
        }
    }

    /// <summary>A sandbox's lease, or null.</summary>
    public async Task<TcFilterLease?> FindAsync(string sandboxId, CancellationToken cancellationToken) =>
        (await ReadAllAsync(cancellationToken).ConfigureAwait(false)).GetValueOrDefault(sandboxId);

    /// <summary>
    /// The sandbox's lease: the one it has, else a new one (with the lowest free subnet when <paramref name="subnet"/>
    /// is true), written before this returns.
    /// </summary>
    /// <exception cref="AddressPoolExhaustedException">A subnet is needed and every one is leased.</exception>
    public Task<TcFilterLease> AcquireAsync(string sandboxId, string netNsPath, bool netNsCreated, bool subnet, CancellationToken cancellationToken) =>
        UpdateAsync(sandboxId, (leases, existing) =>
        {
            if (existing is not null)
            {
                return existing;
            }

            return new TcFilterLease
            {
                NetNsPath = netNsPath,
                NetNsCreated = netNsCreated,
                Subnet = subnet ? FreeSubnet(leases, sandboxId) : null,
            };
        }, cancellationToken);

    /// <summary>Adds an interface name to a sandbox's lease (before its endpoint is created).</summary>
    public Task<TcFilterLease> AddInterfaceAsync(string sandboxId, string netNsPath, string name, CancellationToken cancellationToken) =>
        UpdateAsync(sandboxId, (_, existing) =>
        {
            // A sandbox whose network another model or an older host made has no lease: this one records the namespace
            // as adopted, so removing the interfaces never removes the namespace.
            var lease = existing ?? new TcFilterLease { NetNsPath = netNsPath };
            return lease.Interfaces.Contains(name) ? lease : lease with { Interfaces = [.. lease.Interfaces, name] };
        }, cancellationToken);

    /// <summary>Removes an interface name from a sandbox's lease (after its endpoint is gone).</summary>
    public Task RemoveInterfaceAsync(string sandboxId, string name, CancellationToken cancellationToken) =>
        UpdateAsync(sandboxId, (_, existing) =>
            existing is null || !existing.Interfaces.Contains(name) ? existing : existing with { Interfaces = existing.Interfaces.Where(n => n != name).ToList() },
            cancellationToken);

    /// <summary>Releases a sandbox's lease; one that is gone is not an error.</summary>
    public Task ReleaseAsync(string sandboxId, CancellationToken cancellationToken) =>
        UpdateAsync(sandboxId, (_, _) => null, cancellationToken);

    private Task<TcFilterLease> UpdateAsync(string sandboxId, Func<IReadOnlyDictionary<string, TcFilterLease>, TcFilterLease?, TcFilterLease?> update, CancellationToken cancellationToken)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var leases = Read();
            var existing = leases.GetValueOrDefault(sandboxId);
            var updated = update(leases, existing);
            if (!ReferenceEquals(updated, existing))
            {
                if (updated is null)
                {
                    leases.Remove(sandboxId);
                }
                else
                {
                    leases[sandboxId] = updated;
                }

                Write(leases);
            }

            return Task.FromResult(updated!);
        }
    }

    private string FreeSubnet(IReadOnlyDictionary<string, TcFilterLease> leases, string sandboxId)
    {
        var taken = new HashSet<long>();
        foreach (var lease in leases.Values)
        {
            if (lease.Subnet is not null && IPNetwork.TryParse(lease.Subnet, out var held) && _pool.Contains(held.BaseAddress))
            {
                taken.Add(IndexOf(held.BaseAddress));
            }
        }

        for (long index = 0; index < Capacity; index++)
        {
            if (!taken.Contains(index))
            {
                return new IPNetwork(AddressAt(index, 0), _subnetPrefix).ToString();
            }
        }

        throw new AddressPoolExhaustedException(
            $"The address pool {_pool} ({TcFilterNetworkOptions.SectionName}:AddressPool) is exhausted: all {Capacity} /{_subnetPrefix} subnets are leased, none is left for sandbox {sandboxId}. Remove a sandbox, or configure a larger pool.");
    }

    /// <summary>The address at an offset in the subnet with an index (0 = the subnet's network address).</summary>
    public IPAddress AddressAt(long subnetIndex, long offset)
    {
        var bytes = _pool.BaseAddress.GetAddressBytes();
        var value = ((uint)bytes[0] << 24) | ((uint)bytes[1] << 16) | ((uint)bytes[2] << 8) | bytes[3];
        value += (uint)((subnetIndex << (32 - _subnetPrefix)) + offset);
        return new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
    }

    private long IndexOf(IPAddress address)
    {
        static uint Value(IPAddress a)
        {
            var b = a.GetAddressBytes();
            return ((uint)b[0] << 24) | ((uint)b[1] << 16) | ((uint)b[2] << 8) | b[3];
        }

        return (Value(address) - Value(_pool.BaseAddress)) >> (32 - _subnetPrefix);
    }

    private Dictionary<string, TcFilterLease> Read()
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return new Dictionary<string, TcFilterLease>(StringComparer.Ordinal);
        }

        try
        {
            var leases = JsonSerializer.Deserialize<Dictionary<string, TcFilterLease>>(bytes, Json)
                ?? throw new InvalidDataException($"The lease file '{Path}' holds null.");
            return new Dictionary<string, TcFilterLease>(leases, StringComparer.Ordinal);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"The lease file '{Path}' is not valid JSON of leases: {ex.Message}", ex);
        }
    }

    private void Write(Dictionary<string, TcFilterLease> leases)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("The tcfilter network driver runs on Linux only.");
        }

        var directory = System.IO.Path.GetDirectoryName(Path)!;
        Directory.CreateDirectory(directory, DirectoryMode);
        var temp = $"{Path}.{Guid.NewGuid():N}.tmp";
        try
        {
            using (var stream = new FileStream(temp, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = LeaseFileMode }))
            {
                JsonSerializer.Serialize(stream, leases, Json);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, Path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }
}
