using System.Runtime.Versioning;
using System.Text.Json;
using KataWorkflows.Activities.Store;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Tests.Store;

[UnsupportedOSPlatform("windows")]
public sealed class SandboxFileStoreTests : IDisposable
{
    private const UnixFileMode Dir0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode File0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly string _root = TestServices.TempRoot();
    private readonly SandboxFileStore _store;

    public SandboxFileStoreTests()
    {
        _store = new SandboxFileStore(Options.Create(new HostStoreOptions { RunRoot = _root }), TimeProvider.System);
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task Write_lays_out_Kata_persist_files_with_private_modes()
    {
        await _store.WriteAsync(Record("sb1", "c1", "c2"), Ct);

        var sandboxDir = Path.Combine(_root, "sbs", "sb1");
        Assert.Equal(Dir0700, File.GetUnixFileMode(Path.Combine(_root, "sbs")));
        Assert.Equal(Dir0700, File.GetUnixFileMode(sandboxDir));
        Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(sandboxDir, "persist.json")));
        foreach (var c in new[] { "c1", "c2" })
        {
            Assert.Equal(Dir0700, File.GetUnixFileMode(Path.Combine(sandboxDir, c)));
            Assert.Equal(File0600, File.GetUnixFileMode(Path.Combine(sandboxDir, c, "persist.json")));
        }

        Assert.Equal(["c1", "c2", "persist.json"], Directory.EnumerateFileSystemEntries(sandboxDir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public async Task The_sandbox_file_holds_persist_version_2_state_hypervisor_network_and_config()
    {
        await _store.WriteAsync(Record("sb1", "c1"), Ct);

        using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(_root, "sbs", "sb1", "persist.json"), Ct));
        var root = json.RootElement;
        Assert.Equal(2, root.GetProperty("persistVersion").GetInt32());
        Assert.Equal("running", root.GetProperty("state").GetString());
        Assert.Equal(2, root.GetProperty("guestMemoryBlockSizeMB").GetInt64());
        Assert.Equal("mock", root.GetProperty("hypervisorState").GetProperty("type").GetString());
        Assert.Equal(3, root.GetProperty("hypervisorState").GetProperty("blockIndexMap").GetProperty("d1").GetInt32());
        Assert.Equal("/var/run/netns/sb1", root.GetProperty("network").GetProperty("netNsPath").GetString());
        Assert.Equal("sb1", root.GetProperty("config").GetProperty("id").GetString());

        var container = await _store.ReadContainerAsync("sb1", "c1", Ct);
        Assert.NotNull(container);
        Assert.Equal(("ready", "/run/rootfs/c1", 0, "tok-c1"), (container.State, container.Rootfs, container.Process.Pid, container.Process.Token));
    }

    [Fact]
    public async Task Rewriting_replaces_the_files_removes_dropped_containers_and_leaves_no_temporary_file()
    {
        await _store.WriteAsync(Record("sb1", "c1", "c2"), Ct);

        await _store.WriteAsync(Record("sb1", "c2") with { State = SandboxState.Paused }, Ct);

        var sandboxDir = Path.Combine(_root, "sbs", "sb1");
        Assert.Equal(["c2", "persist.json"], Directory.EnumerateFileSystemEntries(sandboxDir).Select(Path.GetFileName).Order());
        Assert.Empty(Directory.EnumerateFiles(sandboxDir, "*.tmp", SearchOption.AllDirectories));
        var read = await _store.ReadAsync("sb1", Ct);
        Assert.Equal("paused", read!.State);
        Assert.Null(await _store.ReadContainerAsync("sb1", "c1", Ct));
    }

    [Fact]
    public async Task A_temporary_file_left_by_a_crashed_writer_is_swept_once_stale_and_kept_while_fresh()
    {
        await _store.WriteAsync(Record("sb1"), Ct);
        var sandboxDir = Path.Combine(_root, "sbs", "sb1");
        var stale = Path.Combine(sandboxDir, ".persist.json.dead.tmp");
        var fresh = Path.Combine(sandboxDir, ".persist.json.busy.tmp");
        await File.WriteAllTextAsync(stale, "{", Ct);
        await File.WriteAllTextAsync(fresh, "{", Ct);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddHours(-1));

        await _store.WriteAsync(Record("sb1"), Ct);

        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh));
    }

    [Fact]
    public async Task Writing_over_a_directory_with_loose_modes_tightens_them()
    {
        var sandboxDir = Path.Combine(_root, "sbs", "sb1");
        Directory.CreateDirectory(sandboxDir);
        File.SetUnixFileMode(sandboxDir, Dir0700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);

        await _store.WriteAsync(Record("sb1"), Ct);

        Assert.Equal(Dir0700, File.GetUnixFileMode(sandboxDir));
    }

    [Fact]
    public async Task Remove_deletes_the_sandbox_directory_and_can_run_again()
    {
        await _store.WriteAsync(Record("sb1", "c1"), Ct);
        Assert.True(_store.Exists("sb1"));

        await _store.RemoveAsync("sb1", Ct);
        await _store.RemoveAsync("sb1", Ct);
        await _store.RemoveAsync("never-stored", Ct);

        Assert.False(_store.Exists("sb1"));
        Assert.Null(await _store.ReadAsync("sb1", Ct));
    }

    [Theory]
    [InlineData("../etc")]
    [InlineData("a/b")]
    [InlineData("")]
    public async Task Ids_that_are_not_plain_names_are_rejected_before_touching_the_disk(string id)
    {
        await Assert.ThrowsAsync<InvalidSandboxArgumentException>(() => _store.RemoveAsync(id, Ct));
        Assert.False(Directory.Exists(_root));
    }

    [Fact]
    public async Task Concurrent_writes_of_one_sandbox_leave_one_whole_file()
    {
        await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
            Task.Run(() => _store.WriteAsync(Record("sb1") with { CleanupReason = $"writer {i}" }, Ct), Ct)));

        var read = await _store.ReadAsync("sb1", Ct);
        Assert.StartsWith("writer ", read!.CleanupReason, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(_root, "sbs", "sb1"), "*.tmp"));
    }

    private static SandboxRecord Record(string id, params string[] containers)
    {
        var config = TestSandboxes.Config(id, containers);
        return new SandboxRecord
        {
            Id = id,
            Config = config,
            State = SandboxState.Running,
            Network = new NetworkState { NetNsPath = $"/var/run/netns/{id}", NetNsCreated = true },
            Vm = new VmState { HypervisorType = "mock", Uuid = "u-1" },
            GuestDetails = new GuestDetails { MemBlockSizeBytes = 2 * 1024 * 1024 },
            BlockIndexMap = new Dictionary<string, int> { ["d1"] = 3 },
            Containers = config.Containers.Select(c => new ContainerRecord { Id = c.Id, Config = c, Token = $"tok-{c.Id}" }).ToList(),
        };
    }
}
