namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>The message type byte of a ttrpc frame header (containerd/ttrpc PROTOCOL.md, "Message Types").</summary>
public enum TtrpcMessageType : byte
{
    /// <summary>Opens a stream: a <c>ttrpc.Request</c> from the client.</summary>
    Request = 0x1,

    /// <summary>Ends a stream: the <c>ttrpc.Response</c> from the server.</summary>
    Response = 0x2,

    /// <summary>Stream data (streaming calls only; neither side here supports them).</summary>
    Data = 0x3,
}
