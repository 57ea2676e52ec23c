namespace KataWorkflows.Cli;

/// <summary>
/// The process exit codes of <c>kwf</c>. Scripts can tell a mistake in the command line from a missing sandbox, a
/// refused call, a run that failed (and was undone) and a host that cannot be reached.
/// </summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked (a run completed; a replay was deterministic).</summary>
    public const int Ok = 0;

    /// <summary>Any other error: an unexpected host reply, a local I/O error.</summary>
    public const int Error = 1;

    /// <summary>The command line or an argument is wrong (unknown option, bad JSON, invalid configuration, invalid id).</summary>
    public const int Usage = 2;

    /// <summary>The sandbox, container or workflow instance does not exist.</summary>
    public const int NotFound = 3;

    /// <summary>The call is not allowed in the current state (already exists, wrong state, lock conflict).</summary>
    public const int FailedPrecondition = 4;

    /// <summary>The run failed, was compensated (its steps undone) or was terminated.</summary>
    public const int RunFailed = 5;

    /// <summary><c>kwf wf replay</c>: the history does not replay against the code (non-determinism).</summary>
    public const int Diverged = 6;

    /// <summary>The host could not be reached (no socket, connection refused, TLS failure).</summary>
    public const int Unavailable = 7;

    /// <summary>The <c>--timeout</c> ran out before the answer; a started run goes on in the host.</summary>
    public const int Timeout = 8;

    /// <summary>Interrupted (Ctrl+C); a started run goes on in the host.</summary>
    public const int Cancelled = 130;

    /// <summary>Every code with a one-line meaning, as <c>kwf --help</c> and the docs list them.</summary>
    public static IReadOnlyList<(int Code, string Meaning)> All { get; } =
    [
        (Ok, "ok (run completed, replay deterministic)"),
        (Error, "other error"),
        (Usage, "usage error or invalid argument"),
        (NotFound, "sandbox, container or instance not found"),
        (FailedPrecondition, "failed precondition (wrong state, already exists)"),
        (RunFailed, "run failed, compensated or terminated"),
        (Diverged, "replay diverged from the recorded history"),
        (Unavailable, "host unreachable"),
        (Timeout, "--timeout ran out"),
        (Cancelled, "interrupted"),
    ];
}
