import Foundation

/// Sizes and durations as an operator reads them: the one formatter of every command's text.
public enum Quantity {
    /// `512 B`, `1.5 KiB`, `12.0 MiB`: powers of 1024, as auditd counts max_log_file (its
    /// "MB" is 2^20 bytes), so sizes compare directly with auditd.conf.
    public static func bytes(_ n: Double) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = n, u = 0
        while abs(v) >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        return u == 0 ? "\(Int(n)) B" : String(format: "%.1f %@", v, units[u])
    }

    public static func bytes(_ n: Int64) -> String { bytes(Double(n)) }

    /// An estimate, rounded to one unit: `45 s`, `12 min`, `1.5 h`, `16 h`, `3 days`.
    public static func duration(_ seconds: Double) -> String {
        let s = abs(seconds)
        func one(_ v: Double) -> String {
            v < 10 && v.rounded() != v ? String(format: "%.1f", v) : String(Int(v.rounded()))
        }
        switch s {
        case ..<90: return "\(Int(s.rounded())) s"
        case ..<(90 * 60): return "\(Int((s / 60).rounded())) min"
        case ..<(48 * 3600): return one(s / 3600) + " h"
        default: return one(s / 86400) + " days"
        }
    }

    /// A length given exactly, as people write it: `1h`, `1h 30m`, `45s`, `2d 3h`; under a
    /// second, `0.250s`. The parts are joined by `separator`.
    public static func exactDuration(_ seconds: Double, separator: String = " ") -> String {
        var rest = Int(seconds.rounded())
        if rest <= 0 { return String(format: "%.3fs", seconds) }
        var parts: [String] = []
        for (unit, size) in [("d", 86400), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            parts.append("\(rest / size)\(unit)")
            rest %= size
        }
        return parts.joined(separator: separator)
    }
}
