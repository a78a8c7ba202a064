#if canImport(Glibc)
import Glibc
#endif

/// Whether the kernel log can be read, and if not, why, in the operator's terms: an ingest
/// that cannot read it never sees an OOM kill, and must say so rather than look complete.
public enum KernelLogAccess {
    /// nil when `path` (default /dev/kmsg) can be opened for reading; else what stops it.
    public static func problem(_ path: String = Ingest.kmsgPath) -> String? {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 {
            close(fd)
            return nil
        }
        let e = errno
        let reason = String(cString: strerror(e))
        switch e {
        case ENOENT, ENXIO, ENODEV:
            return "\(path): \(reason) (no kernel log device here: a container, or a systemd unit with PrivateDevices=yes or ProtectKernelLogs=yes)"
        case EPERM, EACCES:
            return "\(path): \(reason) (kernel.dmesg_restrict is set and this process lacks CAP_SYSLOG, or a systemd unit's ProtectKernelLogs=yes / DevicePolicy hides it)"
        default:
            return "\(path): \(reason)"
        }
    }

    /// The warning an ingest gives when the kernel log it would read by default is unreadable.
    public static func warning(_ problem: String) -> String {
        "the kernel log cannot be read, so the kernel's own kills (the OOM killer's above all) are not recorded: \(problem). Run as root with CAP_SYSLOG, or pass --no-kernel-log to say this is intended."
    }
}
