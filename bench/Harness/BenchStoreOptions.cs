using KataWorkflows.Bench.Cli;
using KataWorkflows.Storage.Sqlite;

namespace KataWorkflows.Bench.Harness;

/// <summary>The store options every benchmark shares: <c>--store</c>, <c>--synchronous</c> and <c>--db</c>.</summary>
internal sealed record BenchStoreOptions(StoreKind Kind, SqliteSynchronousMode Synchronous, string? DatabasePath)
{
    /// <summary>The option names, for a command's list of accepted options.</summary>
    public static readonly string[] OptionNames = ["--store", "--synchronous", "--db"];

    /// <summary>The usage lines of the options.</summary>
    public const string Usage =
        """
          --store sqlite|memory      store backend (default sqlite)
          --synchronous full|normal  SQLite PRAGMA synchronous (default full; sqlite only)
          --db PATH                  SQLite file to create and keep (must not exist; default: a temp file, deleted afterwards)
        """;

    /// <summary>The value printed in the JSON result: the synchronous mode, or null where it does not apply.</summary>
    public string? SynchronousName => Kind == StoreKind.Sqlite ? Synchronous.ToString().ToLowerInvariant() : null;

    /// <summary>The value printed in the JSON result for the store.</summary>
    public string StoreName => Kind.ToString().ToLowerInvariant();

    /// <summary>Reads the options.</summary>
    public static BenchStoreOptions From(BenchArguments args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var kind = args.Choice("--store", "sqlite", "sqlite", "memory") == "sqlite" ? StoreKind.Sqlite : StoreKind.Memory;
        args.RejectUnless("--synchronous", kind == StoreKind.Sqlite, "applies only to --store sqlite");
        args.RejectUnless("--db", kind == StoreKind.Sqlite, "applies only to --store sqlite");
        var synchronous = args.Choice("--synchronous", "full", "full", "normal") == "full" ? SqliteSynchronousMode.Full : SqliteSynchronousMode.Normal;
        var db = args.Text("--db");
        if (db is not null)
        {
            if (db.Length == 0)
            {
                throw new UsageException("--db must be a file path, got ''");
            }

            db = Path.GetFullPath(db);
            if (File.Exists(db))
            {
                throw new UsageException($"--db '{db}' already exists; the benchmark needs a fresh store (delete it or pick another path)");
            }
        }

        return new BenchStoreOptions(kind, synchronous, db);
    }
}
