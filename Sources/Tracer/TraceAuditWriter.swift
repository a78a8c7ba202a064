import CLibaudit
import Foundation
import KernelTrace
#if canImport(Glibc)
import Glibc
#endif

/// `killdb trace --audit`: each message written as a user-space audit message (type USER,
/// through libaudit's `audit_log_user_message`), so auditd logs it and audisp-remote
/// forwards it like any other record. The kernel stamps it with the writer's pid, uid,
/// auid and session; libaudit appends the writer's executable: what a collector's ingest
/// checks before it believes one (`ForwardedTrace.verify`).
public final class TraceAuditWriter {
    private var fd: Int32
    private let hostname: String
    private var anchoredAt = 0.0
    /// Why the kernel's record of this writer (the anchor) could not be made, once it failed:
    /// a collector then keeps this writer's messages as unverified.
    public private(set) var anchorError: Int32?

    /// Opens the audit netlink socket. Throws when there is none (no audit in the kernel).
    public init(hostname: String) throws(TracerError) {
        let fd = audit_open()
        guard fd >= 0 else {
            throw .audit("cannot open the kernel's audit socket: \(String(cString: strerror(errno))) (a kernel without CONFIG_AUDIT?)")
        }
        self.fd = fd
        self.hostname = hostname
    }

    deinit { close() }

    /// Whether the kernel logs user messages now (`auditctl -e 1`); nil if it cannot be asked.
    public func auditEnabled() -> Bool? {
        let r = audit_is_enabled(fd)
        return r < 0 ? nil : r != 0
    }

    /// Writes one message; nil, or the errno it failed with (EPERM: no CAP_AUDIT_WRITE).
    public func write(_ m: TraceAuditMessage) -> Int32? {
        guard fd >= 0 else { return EBADF }
        let text = TraceAuditFormat.text(m)
        // The kernel's own record of this pid's executable, which the collector requires
        // within a minute before a message: at a session's start, heartbeats and end, and
        // every 5 s while a backlog is sent (a busy writer may send no heartbeat for long).
        let now = Date().timeIntervalSince1970
        var anchor = false
        if case .session = m { anchor = true } else if now - anchoredAt >= 5 { anchor = true }
        if anchor {
            anchoredAt = now
            let e = killdb_audit_anchor()
            if e != 0, anchorError == nil { anchorError = e }
        }
        errno = 0
        let r = text.withCString { msg in
            hostname.withCString { host in audit_log_user_message(fd, Int32(AUDIT_USER), msg, host, nil, nil, 1) }
        }
        if r <= 0 { return errno == 0 ? (r < 0 ? -r : EIO) : errno }
        return nil
    }

    public func close() {
        if fd >= 0 { audit_close(fd) }
        fd = -1
    }
}
