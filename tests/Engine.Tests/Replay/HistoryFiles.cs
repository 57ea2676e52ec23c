using System.Runtime.CompilerServices;
using KataWorkflows.Engine.Serialization;

namespace KataWorkflows.Engine.Tests.Replay;

/// <summary>The checked-in history files: read from the test output, written (by the generator) into the source tree.</summary>
public static class HistoryFiles
{
    /// <summary>The files and the orchestrations they record.</summary>
    public static readonly IReadOnlyList<string> Names = ["activity-chain.json", "approval.json", "fan-out.json"];

    /// <summary>Loads a checked-in history.</summary>
    public static HistoryDocument Load(string fileName) =>
        HistoryDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Histories", fileName)));

    /// <summary>The <c>Histories</c> folder of the source tree.</summary>
    public static string SourceFolder([CallerFilePath] string thisFile = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "Histories"));
}
