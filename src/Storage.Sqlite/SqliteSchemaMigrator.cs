using System.Globalization;
using KataWorkflows.Engine;
using Microsoft.Data.Sqlite;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>
/// Applies the embedded <c>Scripts/schema-x.y.z.sql</c> files a database has not had yet, in version order, and
/// records each in the <c>Versions</c> table. A published script never changes; a new version adds a file.
/// </summary>
internal static class SqliteSchemaMigrator
{
    private const string ResourcePrefix = "KataWorkflows.Storage.Sqlite.Scripts.schema-";
    private const string ResourceSuffix = ".sql";

    /// <summary>The embedded scripts, oldest first.</summary>
    public static IReadOnlyList<(Version Version, string ResourceName)> Scripts { get; } = FindScripts();

    /// <summary>The newest schema version this code knows.</summary>
    public static Version CodeVersion => Scripts[^1].Version;

    /// <summary>
    /// Brings the schema up to <see cref="CodeVersion"/> in one transaction taken with <c>BEGIN IMMEDIATE</c>, so two
    /// openers never both apply a script. Returns the database's schema version and the versions applied now.
    /// </summary>
    /// <exception cref="StoreUnavailableException">The database has a newer schema than this code knows.</exception>
    public static (Version Current, IReadOnlyList<Version> Applied) Migrate(SqliteConnection connection, string path, TimeProvider time)
    {
        var applied = new List<Version>();
        SqliteConnections.Execute(connection, "BEGIN IMMEDIATE");
        try
        {
            SqliteConnections.Execute(
                connection,
                "CREATE TABLE IF NOT EXISTS Versions (SemanticVersion TEXT NOT NULL PRIMARY KEY, UpgradeTime INTEGER NOT NULL) WITHOUT ROWID");
            var recorded = ReadVersions(connection, path);
            var current = recorded.Count == 0 ? null : recorded.Max();
            if (current is not null && current > CodeVersion)
            {
                throw new StoreUnavailableException(
                    $"The SQLite store '{path}' has schema version {current}, newer than {CodeVersion}, the newest this version of "
                    + "Kata Workflows knows; run a newer version against it.");
            }

            foreach (var (version, resource) in Scripts)
            {
                if (current is not null && version <= current)
                {
                    continue;
                }

                SqliteConnections.Execute(connection, ReadScript(resource));
                using var record = connection.CreateCommand();
                record.CommandText = "INSERT INTO Versions (SemanticVersion, UpgradeTime) VALUES ($version, $time)";
                record.Parameters.AddWithValue("$version", version.ToString());
                record.Parameters.AddWithValue("$time", time.GetUtcNow().UtcTicks);
                record.ExecuteNonQuery();
                applied.Add(version);
                current = version;
            }

            SqliteConnections.Execute(connection, "COMMIT");
            return (current!, applied);
        }
        catch
        {
            TryRollback(connection);
            throw;
        }
    }

    private static List<Version> ReadVersions(SqliteConnection connection, string path)
    {
        var versions = new List<Version>();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT SemanticVersion FROM Versions";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var text = reader.GetString(0);
            if (!Version.TryParse(text, out var version))
            {
                throw new StoreUnavailableException($"The SQLite store '{path}' records a schema version '{text}' that is not a version number.");
            }

            versions.Add(version);
        }

        return versions;
    }

    private static void TryRollback(SqliteConnection connection)
    {
        try
        {
            SqliteConnections.Execute(connection, "ROLLBACK");
        }
        catch (SqliteException)
        {
            // No transaction is open any more (SQLite rolled it back itself); the original error is what matters.
        }
    }

    private static string ReadScript(string resource)
    {
        using var stream = typeof(SqliteSchemaMigrator).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"Embedded schema script '{resource}' is missing.");
        using var text = new StreamReader(stream);
        return text.ReadToEnd();
    }

    private static (Version, string)[] FindScripts()
    {
        var scripts = typeof(SqliteSchemaMigrator).Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(ResourcePrefix, StringComparison.Ordinal) && n.EndsWith(ResourceSuffix, StringComparison.Ordinal))
            .Select(n => (Version: Version.Parse(n.AsSpan(ResourcePrefix.Length, n.Length - ResourcePrefix.Length - ResourceSuffix.Length)), Name: n))
            .OrderBy(s => s.Version)
            .ToArray();
        return scripts.Length > 0
            ? scripts
            : throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"No embedded schema scripts found under '{ResourcePrefix}'."));
    }
}
