using System.Text.Json;
using System.Text.Json.Serialization;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Activities.Drivers;

/// <summary>
/// A mock driver's durable state: one JSON file per sandbox, <c>&lt;directory&gt;/&lt;sandboxId&gt;.json</c>. A file is
/// replaced atomically (written to a temporary file beside it, then renamed over it), so a process killed in the middle
/// of a write leaves the old file or the new one, never half of one; a leftover temporary file is ignored. The files
/// outlive a crash of the process, not a crash of the machine (they are not flushed to disk). Not thread-safe: the
/// driver that owns it serializes its writes.
/// </summary>
/// <typeparam name="T">What is kept per sandbox.</typeparam>
public sealed class DriverStateFiles<T>
    where T : class
{
    private const string Extension = ".json";
    private const string TempSuffix = ".tmp";
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    private static readonly JsonSerializerOptions Json = CreateJsonOptions();

    /// <summary>Opens (and creates, mode 0700) the directory.</summary>
    /// <exception cref="IOException">The directory cannot be created.</exception>
    public DriverStateFiles(string directory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        Directory = directory;
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(directory);
        }
        else
        {
            System.IO.Directory.CreateDirectory(directory, DirectoryMode);
        }
    }

    /// <summary>The directory.</summary>
    public string Directory { get; }

    /// <summary>Every sandbox's state, by sandbox id.</summary>
    /// <exception cref="InvalidDataException">A file does not hold a <typeparamref name="T"/>; the message names it.</exception>
    public IReadOnlyDictionary<string, T> ReadAll()
    {
        var states = new Dictionary<string, T>(StringComparer.Ordinal);
        foreach (var path in System.IO.Directory.EnumerateFiles(Directory, "*" + Extension))
        {
            T? state;
            try
            {
                state = JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Json);
            }
            catch (FileNotFoundException)
            {
                // Removed since it was listed.
                continue;
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"The mock driver state file '{path}' is not valid: {ex.Message}", ex);
            }

            states[Path.GetFileNameWithoutExtension(path)] = state ?? throw new InvalidDataException($"The mock driver state file '{path}' holds null.");
        }

        return states;
    }

    /// <summary>Replaces a sandbox's file.</summary>
    public void Write(string sandboxId, T state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var path = PathOf(sandboxId);
        var temp = $"{path}.{Guid.NewGuid():N}{TempSuffix}";
        try
        {
            File.WriteAllBytes(temp, JsonSerializer.SerializeToUtf8Bytes(state, Json));
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            File.Delete(temp);
            throw;
        }
    }

    /// <summary>Removes a sandbox's file; one that is gone is not an error.</summary>
    public void Delete(string sandboxId) => File.Delete(PathOf(sandboxId));

    private string PathOf(string sandboxId)
    {
        // The id becomes a file name: the validation rules out separators and dot segments.
        SandboxIds.ValidateSandboxId(sandboxId);
        return Path.Combine(Directory, sandboxId + Extension);
    }

    private static JsonSerializerOptions CreateJsonOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
