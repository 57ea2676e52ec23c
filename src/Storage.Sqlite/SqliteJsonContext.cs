using System.Text.Json.Serialization;

namespace KataWorkflows.Storage.Sqlite;

/// <summary>Source-generated JSON for the two JSON columns: instance tags and entity lock sets.</summary>
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(string[]))]
internal sealed partial class SqliteJsonContext : JsonSerializerContext
{
}
