/// Why the tracer cannot run or stopped, worded for the operator, with what to do.
public enum TracerError: Error, CustomStringConvertible, Equatable {
    /// BPF cannot be used here: no BTF, no privilege, lockdown, an old kernel.
    case unavailable(reason: String, fix: String)
    /// `--signals` named something that is not a signal.
    case badSignals(String)
    /// libbpf refused a step; its own messages (the verifier's) follow.
    case libbpf(step: String, errno: Int32, log: String)
    /// `--audit`: the audit system cannot take the tracer's messages.
    case audit(String)

    public var description: String {
        switch self {
        case .unavailable(let reason, let fix):
            return "the tracer cannot run here: \(reason). \(fix)"
        case .badSignals(let text):
            return "--signals: \(text)"
        case .libbpf(let step, let errno, let log):
            var s = "the tracer could not \(step): \(String(cString: strerror(errno))) (errno \(errno))"
            let tail = log.split(separator: "\n").suffix(12).joined(separator: "\n")
            if !tail.isEmpty { s += "\nlibbpf said:\n" + tail }
            return s
        case .audit(let text):
            return "--audit: \(text)"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
