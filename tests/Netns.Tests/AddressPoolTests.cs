using System.Net;
using KataWorkflows.Activities.Networks.TcFilter;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Netns.Tests;

/// <summary>The address pool: distinct subnets, the same one again for the same sandbox, released, exhausted clearly.</summary>
public sealed class AddressPoolTests : IDisposable
{
    private readonly string _runRoot = Directory.CreateTempSubdirectory("kwf-pool-tests-").FullName;

    private static CancellationToken Ct => NetnsHost.Ct;

    public void Dispose() => Directory.Delete(_runRoot, recursive: true);

    [Fact]
    public async Task Many_sandboxes_get_distinct_subnets_and_each_gets_its_own_back_after_a_restart()
    {
        var store = new TcFilterLeaseStore(_runRoot, IPNetwork.Parse("10.213.0.0/16"), 30);
        var subnets = new Dictionary<string, string>();
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            var lease = await store.AcquireAsync($"sb{i}", $"/run/netns/x{i}", true, subnet: true, Ct);
            lock (subnets)
            {
                subnets[$"sb{i}"] = lease.Subnet!;
            }
        }, Ct)));

        Assert.Equal(200, subnets.Values.Distinct().Count());
        Assert.All(subnets.Values, s => Assert.True(IPNetwork.Parse("10.213.0.0/16").Contains(IPNetwork.Parse(s).BaseAddress) && s.EndsWith("/30", StringComparison.Ordinal), s));
        var restarted = new TcFilterLeaseStore(_runRoot, IPNetwork.Parse("10.213.0.0/16"), 30);
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(subnets[$"sb{i}"], (await restarted.AcquireAsync($"sb{i}", "/other", false, subnet: true, Ct)).Subnet);
        }

        Assert.Equal(200, (await restarted.ReadAllAsync(Ct)).Count);
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(restarted.Path)!, "*.tmp"));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(restarted.Path));
    }

    [Fact]
    public async Task A_full_pool_refuses_with_an_error_naming_the_pool_and_a_released_subnet_is_given_again()
    {
        var store = new TcFilterLeaseStore(_runRoot, IPNetwork.Parse("10.213.7.0/28"), 30);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal($"10.213.7.{i * 4}/30", (await store.AcquireAsync($"sb{i}", "/p", true, subnet: true, Ct)).Subnet);
        }

        var ex = await Assert.ThrowsAsync<AddressPoolExhaustedException>(() => store.AcquireAsync("sb4", "/p", true, subnet: true, Ct));
        Assert.Equal(
            "The address pool 10.213.7.0/28 (Network:AddressPool) is exhausted: all 4 /30 subnets are leased, none is left for sandbox sb4. Remove a sandbox, or configure a larger pool.",
            ex.Message);
        Assert.Equal(4, (await store.ReadAllAsync(Ct)).Count);

        await store.ReleaseAsync("sb2", Ct);
        await store.ReleaseAsync("sb2", Ct);
        Assert.Equal("10.213.7.8/30", (await store.AcquireAsync("sb4", "/p", true, subnet: true, Ct)).Subnet);
    }

    [Fact]
    public async Task A_sandbox_with_its_own_address_takes_no_subnet()
    {
        var store = new TcFilterLeaseStore(_runRoot, IPNetwork.Parse("10.213.7.0/30"), 30);

        Assert.Null((await store.AcquireAsync("own", "/p", true, subnet: false, Ct)).Subnet);
        Assert.Equal("10.213.7.0/30", (await store.AcquireAsync("pooled", "/p", true, subnet: true, Ct)).Subnet);
    }

    [Fact]
    public async Task A_corrupt_lease_file_is_reported_by_path_and_not_overwritten()
    {
        var store = new TcFilterLeaseStore(_runRoot, IPNetwork.Parse("10.213.7.0/28"), 30);
        Directory.CreateDirectory(Path.GetDirectoryName(store.Path)!);
        await File.WriteAllTextAsync(store.Path, "{not json", Ct);

        var ex = await Assert.ThrowsAsync<InvalidDataException>(() => store.AcquireAsync("sb1", "/p", true, subnet: true, Ct));

        Assert.Contains(store.Path, ex.Message, StringComparison.Ordinal);
        Assert.Equal("{not json", await File.ReadAllTextAsync(store.Path, Ct));
    }

    [Fact]
    public async Task The_driver_leases_through_a_small_pool_until_it_is_full_and_frees_on_remove()
    {
        NetnsHost.Require();
        await using var host = new NetnsHost(subnetPrefixLength: 30, addressPool: null);
        host.Options.AddressPool = host.AddressPool.Replace("/24", "/29", StringComparison.Ordinal);
        var driver = host.Driver();

        var a = await driver.CreateAsync("a", new NetworkConfig(), Ct);
        var b = await driver.CreateAsync("b", new NetworkConfig(), Ct);
        var ex = await Assert.ThrowsAsync<AddressPoolExhaustedException>(() => driver.CreateAsync("c", new NetworkConfig(), Ct));

        Assert.NotEqual(a.Endpoints[0].IpAddresses[0], b.Endpoints[0].IpAddresses[0]);
        Assert.Contains("Network:AddressPool", ex.Message, StringComparison.Ordinal);
        Assert.Equal([host.NetnsPrefix + "a", host.NetnsPrefix + "b"], host.Namespaces());
        await driver.RemoveAsync("a", a, Ct);
        var c = await driver.CreateAsync("c", new NetworkConfig(), Ct);
        Assert.Equal(a.Endpoints[0].IpAddresses[0], c.Endpoints[0].IpAddresses[0]);
    }
}
