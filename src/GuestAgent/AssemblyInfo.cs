using System.Runtime.Versioning;

// The agent runs inside a Linux guest only: mounts, namespaces, cgroups and Unix file modes.
[assembly: SupportedOSPlatform("linux")]
