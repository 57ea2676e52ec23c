namespace KataWorkflows.Activities.Store;

/// <summary>Where the host keeps its sandbox run directories (Kata's <c>persist/fs</c> root).</summary>
public sealed class HostStoreOptions
{
    /// <summary>The configuration section these options are usually bound from.</summary>
    public const string SectionName = "HostStore";

    /// <summary>Kata's run root.</summary>
    public const string DefaultRunRoot = "/run/vc";

    /// <summary>The run root: sandboxes live in <c>&lt;RunRoot&gt;/sbs/&lt;sandboxId&gt;</c>. An absolute path.</summary>
    public string RunRoot { get; set; } = DefaultRunRoot;
}
