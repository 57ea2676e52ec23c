namespace KataWorkflows.Activities.Networks.TcFilter;

/// <summary>The tcfilter network driver's settings: the address pool it leases sandbox subnets from, and its names.</summary>
public sealed class TcFilterNetworkOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "Network";

    /// <summary>The default pool: private, and far from the ranges Docker, libvirt and most clouds take.</summary>
    public const string DefaultAddressPool = "10.213.0.0/16";

    /// <summary>
    /// The IPv4 network (CIDR) sandbox subnets are leased from when a sandbox's config names no address (the part a CNI
    /// IPAM plugin plays for Kata). Each sandbox gets one subnet of <see cref="SubnetPrefixLength"/>: the host end of its
    /// veth takes the first address, the guest the second, and the guest's default route goes through the first.
    /// </summary>
    public string AddressPool { get; set; } = DefaultAddressPool;

    /// <summary>The prefix length of a sandbox's subnet: from the pool's own prefix length to 30 (a /30 holds the two ends).</summary>
    public int SubnetPrefixLength { get; set; } = 30;

    /// <summary>The MTU of a sandbox's veth (and so of its tap and the guest's NIC): 68 to 65535.</summary>
    public int Mtu { get; set; } = 1500;

    /// <summary>What a namespace this driver creates is called before the sandbox id (1 to 16 of <c>[A-Za-z0-9_.-]</c>, starting with a letter or digit).</summary>
    public string NetnsPrefix { get; set; } = "kwf-";

    /// <summary>What the host end of each veth is called before its hash (1 to 5 of <c>[a-z0-9]</c>, starting with a letter); pick one no other tool uses.</summary>
    public string HostDevicePrefix { get; set; } = "kwf";

    /// <summary>How long one <c>ip</c> or <c>tc</c> command may take before it is killed and the step fails.</summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(10);
}
