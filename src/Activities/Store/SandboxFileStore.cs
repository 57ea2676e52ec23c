using System.Text.Json;
using System.Text.Json.Serialization;
using KataWorkflows.Orchestrations.Contracts;
using KataWorkflows.Orchestrations.Model;
using Microsoft.Extensions.Options;

namespace KataWorkflows.Activities.Store;

/// <summary>
/// Kata's <c>persist/fs</c> layout under <see cref="HostStoreOptions.RunRoot"/>:
/// <c>sbs/&lt;sandboxId&gt;/persist.json</c> and <c>sbs/&lt;sandboxId&gt;/&lt;containerId&gt;/persist.json</c>,
/// directories 0700 and files 0600. Each file is replaced atomically (a temporary file, flushed to disk, renamed over
/// it), so a reader or a crash sees the old or the new file, never half of one.
/// </summary>
public sealed class SandboxFileStore : ISandboxStore
{
    /// <summary>The file name of every record.</summary>
    public const string FileName = "persist.json";

    private const string TempSuffix = ".tmp";
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    // A temporary file older than this was left by a writer that died; a younger one may belong to a writer still at work.
    private static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time;

    /// <summary>Creates the store.</summary>
    public SandboxFileStore(IOptions<HostStoreOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(time);
        RunRoot = options.Value.RunRoot;
        _time = time;
    }

    /// <summary>The run root.</summary>
    public string RunRoot { get; }

    /// <summary>The directory of a sandbox: <c>&lt;root&gt;/sbs/&lt;sandboxId&gt;</c>.</summary>
    public string SandboxDirectory(string sandboxId)
    {
        SandboxIds.ValidateSandboxId(sandboxId);
        return Path.Combine(RunRoot, "sbs", sandboxId);
    }

    /// <summary>The directory of a container: <c>&lt;root&gt;/sbs/&lt;sandboxId&gt;/&lt;containerId&gt;</c>.</summary>
    public string ContainerDirectory(string sandboxId, string containerId)
    {
        SandboxIds.ValidateContainerId(containerId);
        return Path.Combine(SandboxDirectory(sandboxId), containerId);
    }

    /// <inheritdoc />
    public async Task WriteAsync(SandboxRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var sandboxDirectory = SandboxDirectory(record.Id);
        CreateDirectory(sandboxDirectory);
        var kept = new HashSet<string>(StringComparer.Ordinal);
        foreach (var container in record.Containers)
        {
            var directory = ContainerDirectory(record.Id, container.Id);
            CreateDirectory(directory);
            await WriteFileAsync(directory, ToPersist(container), cancellationToken).ConfigureAwait(false);
            kept.Add(container.Id);
        }

        foreach (var directory in Directory.EnumerateDirectories(sandboxDirectory))
        {
            if (!kept.Contains(Path.GetFileName(directory)))
            {
                DeleteDirectory(directory);
            }
        }

        // The sandbox file goes last: once it is replaced, every container file it implies is in place.
        await WriteFileAsync(sandboxDirectory, ToPersist(record), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<SandboxPersistState?> ReadAsync(string sandboxId, CancellationToken cancellationToken) =>
        ReadFileAsync<SandboxPersistState>(Path.Combine(SandboxDirectory(sandboxId), FileName), cancellationToken);

    /// <inheritdoc />
    public Task<ContainerPersistState?> ReadContainerAsync(string sandboxId, string containerId, CancellationToken cancellationToken) =>
        ReadFileAsync<ContainerPersistState>(Path.Combine(ContainerDirectory(sandboxId, containerId), FileName), cancellationToken);

    /// <inheritdoc />
    public Task RemoveAsync(string sandboxId, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        DeleteDirectory(SandboxDirectory(sandboxId));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public bool Exists(string sandboxId) => Directory.Exists(SandboxDirectory(sandboxId));

    private static SandboxPersistState ToPersist(SandboxRecord record) => new()
    {
        SandboxId = record.Id,
        State = StateTransitions.Name(record.State),
        GuestMemoryBlockSizeMB = (record.GuestDetails?.MemBlockSizeBytes ?? 0) / (1024 * 1024),
        GuestMemoryHotplugProbe = record.GuestDetails?.SupportMemHotplugProbe ?? false,
        HypervisorState = record.Vm is not { } vm
            ? null
            : new HypervisorPersistState
            {
                Type = vm.HypervisorType,
                Pid = vm.Pid,
                Uuid = vm.Uuid,
                BlockIndexMap = record.BlockIndexMap,
                RunDirectory = vm.RunDirectory,
                Paused = vm.Paused,
            },
        Network = record.Network,
        Devices = record.Devices,
        Routes = record.Routes,
        Config = record.Config,
        CleanupReason = record.CleanupReason,
        UpdatedAt = record.UpdatedAt,
    };

    private static ContainerPersistState ToPersist(ContainerRecord container) => new()
    {
        ContainerId = container.Id,
        State = StateTransitions.Name(container.State),
        Rootfs = container.Config.RootFs,
        Process = new ProcessInfo(container.Token ?? string.Empty, container.Pid, container.StartTime),
        Config = container.Config,
    };

    private async Task WriteFileAsync<T>(string directory, T value, CancellationToken cancellationToken)
    {
        var path = Path.Combine(directory, FileName);
        var bytes = JsonSerializer.SerializeToUtf8Bytes(value, Json);
        RemoveStaleTemporaries(directory);
        var temp = Path.Combine(directory, $".{FileName}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            var options = new FileStreamOptions { Mode = System.IO.FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = FileMode;
            }

            var stream = new FileStream(temp, options);
            await using (stream.ConfigureAwait(false))
            {
                await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDeleteFile(temp);
            throw;
        }
    }

    private static async Task<T?> ReadFileAsync<T>(string path, CancellationToken cancellationToken)
        where T : class
    {
        try
        {
            var stream = File.OpenRead(path);
            await using (stream.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null;
        }
    }

    private static void CreateDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        // Like Kata's MkdirAll(path, 0700): every directory created on the way is private, not only the last one.
        var parent = Path.GetDirectoryName(path);
        if (parent is not null && !Directory.Exists(parent))
        {
            CreateDirectory(parent);
        }

        Directory.CreateDirectory(path, DirectoryMode);

        // The mode given at creation is masked by the umask and not applied to a directory that already existed.
        File.SetUnixFileMode(path, DirectoryMode);
    }

    private static void DeleteDirectory(string path)
    {
        try
        {
            Directory.Delete(path, recursive: true);
        }
        catch (DirectoryNotFoundException)
        {
            // Already gone: removal is idempotent.
        }
    }

    private void RemoveStaleTemporaries(string directory)
    {
        // A crash between creating a temporary file and renaming it leaves the file behind; a later write sweeps it.
        var cutoff = _time.GetUtcNow().UtcDateTime - StaleAfter;
        foreach (var temp in Directory.EnumerateFiles(directory, $".{FileName}.*{TempSuffix}"))
        {
            if (File.GetLastWriteTimeUtc(temp) < cutoff)
            {
                TryDeleteFile(temp);
            }
        }
    }

    private static void TryDeleteFile(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the next write sweeps it again.
        }
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            WriteIndented = true,
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
