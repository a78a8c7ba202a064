import Foundation

/// Which boot the tracer's times belong to: start times and CLOCK_BOOTTIME stamps mean
/// something only within one boot.
public enum BootIdentity {
    /// /proc/sys/kernel/random/boot_id, a fresh UUID each boot.
    public static func bootID() -> String {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    }

    /// Epoch seconds of boot, as the tracer converts times.
    public static func bootTime() -> Double { BootClock.bootTime() }
}
