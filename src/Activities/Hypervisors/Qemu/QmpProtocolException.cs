namespace KataWorkflows.Activities.Hypervisors.Qemu;

/// <summary>
/// The QMP connection failed or ended: QEMU closed it (it exited), sent a line longer than the limit, or sent something
/// that is not QMP. Every call pending on the connection, and every later one, fails with it.
/// </summary>
public sealed class QmpProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    public QmpProtocolException(string message, Exception? inner = null)
        : base(message, inner)
    {
    }
}
