namespace KataWorkflows.Protocol.Ttrpc;

/// <summary>What a server handler knows about the call it answers.</summary>
/// <param name="Service">The service named by the request.</param>
/// <param name="Method">The method named by the request.</param>
/// <param name="StreamId">The request's stream id on its connection.</param>
/// <param name="Timeout">The caller's timeout (<c>timeout_nano</c>), or <see langword="null"/> when it set none.</param>
/// <param name="Metadata">The request's metadata, in the order sent.</param>
public sealed record TtrpcCallContext(
    string Service,
    string Method,
    uint StreamId,
    TimeSpan? Timeout,
    IReadOnlyList<KeyValuePair<string, string>> Metadata);
