using System.Runtime.Versioning;

// The tests boot a Linux guest under QEMU and use the guest agent's own Linux-only messages.
[assembly: SupportedOSPlatform("linux")]
