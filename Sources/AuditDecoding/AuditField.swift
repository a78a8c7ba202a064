/// Decoders for audit field values: the bytes after `name=` in a record, as logged.
public enum AuditField {
    /// A string field (comm, exe, proctitle, key, ocomm, cwd, ...). The kernel logs it
    /// quoted when it is plain printable ASCII, and as hex of the raw bytes otherwise
    /// (space, quote, control characters, bytes above 0x7e). Unquoted `(null)` and
    /// `(none)` mean absent. Anything else unquoted that is not even-length hex comes
    /// back as logged, so nothing is dropped.
    ///
    /// An unquoted even-length hex-looking value is always taken as hex: a
    /// pre-interpreted log that printed `comm=cafe` unquoted is indistinguishable.
    public static func decodeString(_ value: some Collection<UInt8>) -> [UInt8]? {
        withBytes(value) { decodeString(bytes: $0) }
    }

    /// A hexadecimal field (a0...a3, arch): optional `0x`, at most 64 bits of value.
    public static func hexUInt64(_ value: some Collection<UInt8>) -> UInt64? {
        withBytes(value) { hexUInt64(bytes: $0) }
    }

    /// A decimal field with an optional leading `-` (pid, exit, ...).
    public static func decimal(_ value: some Collection<UInt8>) -> Int64? {
        withBytes(value) { decimal(bytes: $0) }
    }

    /// The 32-bit id value that means "not set" (`(uid_t)-1`, AUDIT_UID_UNSET).
    public static let unsetID: Int64 = 4_294_967_295

    /// An id field (uid, auid, ses, ouid, oauid, oses, ...). The kernel logs "unset" as
    /// 4294967295 and some userspace records as -1; both become `unsetID`. Values
    /// outside 32 bits, other negatives and names are not ids: nil.
    public static func auditID(_ value: some Collection<UInt8>) -> Int64? {
        guard let n = decimal(value) else { return nil }
        if n == -1 { return unsetID }
        return (0...unsetID).contains(n) ? n : nil
    }

    /// The errno name for a negative `exit=` value (-3 is "ESRCH"); nil for success
    /// values and numbers with no name. Uses the asm-generic numbering, which all the
    /// arches in `AuditArch` share. The kernel already turns ERESTART* into -EINTR
    /// before logging, so the kernel-internal codes above 511 never show up.
    public static func errnoName(_ exit: Int64) -> String? {
        guard exit < 0, exit >= -Int64(errnoNames.count - 1) else { return nil }
        return errnoNames[Int(-exit)]
    }

    /// The arguments in a PROCTITLE value: split on NUL, without the empty piece a
    /// trailing NUL would leave.
    public static func splitProctitle(_ bytes: [UInt8]) -> [[UInt8]] {
        var parts = bytes.split(separator: 0, omittingEmptySubsequences: false).map(Array.init)
        if parts.last?.isEmpty == true { parts.removeLast() }
        return parts
    }

    /// A PROCTITLE value as one line: trailing NULs trimmed, the others made spaces.
    public static func commandLine(_ proctitle: [UInt8]) -> [UInt8] {
        var end = proctitle.endIndex
        while end > proctitle.startIndex, proctitle[end - 1] == 0 { end -= 1 }
        return proctitle[..<end].map { $0 == 0 ? 0x20 : $0 }
    }
}

// MARK: - Byte-level implementations

/// Runs `body` on the collection's contiguous storage, copying only when it has none.
@inline(__always)
func withBytes<R>(_ value: some Collection<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
    if let r = value.withContiguousStorageIfAvailable(body) { return r }
    return Array(value).withUnsafeBufferPointer(body)
}

/// The value of one hex digit, or 0xff.
@inline(__always)
func hexDigitValue(_ c: UInt8) -> UInt8 {
    switch c {
    case 0x30...0x39: c &- 0x30
    case 0x41...0x46: c &- 0x37
    case 0x61...0x66: c &- 0x57
    default: 0xff
    }
}

extension AuditField {
    private static let quote: UInt8 = 0x22

    static func decodeString(bytes b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard let first = b.first else { return [] }
        if first == quote {
            // A line cut short loses the closing quote; what remains is still the value.
            let end = b.count >= 2 && b[b.count - 1] == quote ? b.count - 1 : b.count
            return Array(b[1..<end])
        }
        if b.elementsEqual("(null)".utf8) || b.elementsEqual("(none)".utf8) { return nil }
        return hexBytes(b) ?? Array(b)
    }

    /// The bytes `b` spells in hex, or nil if it is not an even number of hex digits.
    private static func hexBytes(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard b.count % 2 == 0 else { return nil }
        var valid = true
        let out = [UInt8](unsafeUninitializedCapacity: b.count / 2) { out, count in
            var i = 0
            while i < b.count {
                let hi = hexDigitValue(b[i]), lo = hexDigitValue(b[i + 1])
                guard hi != 0xff, lo != 0xff else { valid = false; break }
                out[i / 2] = hi << 4 | lo
                i += 2
            }
            count = valid ? b.count / 2 : 0
        }
        return valid ? out : nil
    }

    static func hexUInt64(bytes b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var i = 0
        if b.count > 2, b[0] == 0x30, b[1] | 0x20 == 0x78 { i = 2 }  // 0x or 0X
        guard i < b.count else { return nil }
        var v: UInt64 = 0
        while i < b.count {
            let d = hexDigitValue(b[i])
            guard d != 0xff, v >> 60 == 0 else { return nil }
            v = v << 4 | UInt64(d)
            i += 1
        }
        return v
    }

    static func decimal(bytes b: UnsafeBufferPointer<UInt8>) -> Int64? {
        let negative = b.first == 0x2d
        var i = negative ? 1 : 0
        guard i < b.count else { return nil }
        var v: Int64 = 0
        while i < b.count {
            let d = b[i] &- 0x30
            guard d < 10 else { return nil }
            // Accumulating toward the sign reaches Int64.min without overflowing.
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = negative ? m.subtractingReportingOverflow(Int64(d)) : m.addingReportingOverflow(Int64(d))
            guard !o1, !o2 else { return nil }
            v = s
            i += 1
        }
        return v
    }

    /// asm-generic/errno-base.h and errno.h, indexed by number; 41 and 58 are unused.
    private static let errnoNames: [String?] = [
        nil, "EPERM", "ENOENT", "ESRCH", "EINTR", "EIO", "ENXIO", "E2BIG", "ENOEXEC", "EBADF",
        "ECHILD", "EAGAIN", "ENOMEM", "EACCES", "EFAULT", "ENOTBLK", "EBUSY", "EEXIST", "EXDEV", "ENODEV",
        "ENOTDIR", "EISDIR", "EINVAL", "ENFILE", "EMFILE", "ENOTTY", "ETXTBSY", "EFBIG", "ENOSPC", "ESPIPE",
        "EROFS", "EMLINK", "EPIPE", "EDOM", "ERANGE", "EDEADLK", "ENAMETOOLONG", "ENOLCK", "ENOSYS", "ENOTEMPTY",
        "ELOOP", nil, "ENOMSG", "EIDRM", "ECHRNG", "EL2NSYNC", "EL3HLT", "EL3RST", "ELNRNG", "EUNATCH",
        "ENOCSI", "EL2HLT", "EBADE", "EBADR", "EXFULL", "ENOANO", "EBADRQC", "EBADSLT", nil, "EBFONT",
        "ENOSTR", "ENODATA", "ETIME", "ENOSR", "ENONET", "ENOPKG", "EREMOTE", "ENOLINK", "EADV", "ESRMNT",
        "ECOMM", "EPROTO", "EMULTIHOP", "EDOTDOT", "EBADMSG", "EOVERFLOW", "ENOTUNIQ", "EBADFD", "EREMCHG", "ELIBACC",
        "ELIBBAD", "ELIBSCN", "ELIBMAX", "ELIBEXEC", "EILSEQ", "ERESTART", "ESTRPIPE", "EUSERS", "ENOTSOCK", "EDESTADDRREQ",
        "EMSGSIZE", "EPROTOTYPE", "ENOPROTOOPT", "EPROTONOSUPPORT", "ESOCKTNOSUPPORT", "EOPNOTSUPP", "EPFNOSUPPORT",
        "EAFNOSUPPORT", "EADDRINUSE", "EADDRNOTAVAIL",
        "ENETDOWN", "ENETUNREACH", "ENETRESET", "ECONNABORTED", "ECONNRESET", "ENOBUFS", "EISCONN", "ENOTCONN",
        "ESHUTDOWN", "ETOOMANYREFS",
        "ETIMEDOUT", "ECONNREFUSED", "EHOSTDOWN", "EHOSTUNREACH", "EALREADY", "EINPROGRESS", "ESTALE", "EUCLEAN",
        "ENOTNAM", "ENAVAIL",
        "EISNAM", "EREMOTEIO", "EDQUOT", "ENOMEDIUM", "EMEDIUMTYPE", "ECANCELED", "ENOKEY", "EKEYEXPIRED",
        "EKEYREVOKED", "EKEYREJECTED",
        "EOWNERDEAD", "ENOTRECOVERABLE", "ERFKILL", "EHWPOISON",
    ]
}
