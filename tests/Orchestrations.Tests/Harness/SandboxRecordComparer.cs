using System.Diagnostics.CodeAnalysis;
using System.Text.Json;
using KataWorkflows.Orchestrations.Model;

namespace KataWorkflows.Orchestrations.Tests.Harness;

/// <summary>Compares records by value, lists and maps included (record equality compares those by reference).</summary>
public sealed class SandboxRecordComparer : IEqualityComparer<SandboxRecord?>
{
    /// <summary>The comparer.</summary>
    public static readonly SandboxRecordComparer Instance = new();

    /// <summary>The record as JSON, for value comparisons and readable failure messages.</summary>
    public static string Json(object? value) => JsonSerializer.Serialize(value);

    /// <summary>What the record says about the sandbox, leaving out which calls wrote it and when.</summary>
    public static string Content(SandboxRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Json(record with { Operations = [], UpdatedAt = default });
    }

    /// <inheritdoc />
    public bool Equals(SandboxRecord? x, SandboxRecord? y) => Json(x) == Json(y);

    /// <inheritdoc />
    public int GetHashCode([DisallowNull] SandboxRecord obj) => Json(obj).GetHashCode(StringComparison.Ordinal);
}
