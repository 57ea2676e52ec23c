namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>
/// The bytes on a ttrpc connection are not a valid frame sequence (a truncated frame, a frame over the size limit, a
/// frame of the wrong type, data that is not a ttrpc envelope). The connection cannot be trusted after it and is
/// closed.
/// </summary>
public sealed class TtrpcProtocolException : IOException
{
    /// <summary>Creates the exception.</summary>
    public TtrpcProtocolException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with its cause.</summary>
    public TtrpcProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with no message of its own.</summary>
    public TtrpcProtocolException()
        : base("The ttrpc connection carried an invalid frame.")
    {
    }

    /// <summary>The stream the bad frame named, when its header could be read.</summary>
    public uint? StreamId { get; init; }

    /// <summary>Whether the frame was refused for announcing more data than the size limit.</summary>
    public bool FrameTooLarge { get; init; }
}
