import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Who holds a flock on a file, as the kernel says (/proc/locks), not as the lock file
/// says: the pid written there may be a run long dead, or a number anyone could write.
enum LockHolder {
    /// The pid holding a FLOCK on the file open as `fd`, if /proc/locks names a live one.
    static func pid(holding fd: Int32) -> Int32? {
        var st = stat()
        guard fstat(fd, &st) == 0, let text = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let major = (UInt64(st.st_dev) >> 8) & 0xfff | (UInt64(st.st_dev) >> 32) & ~0xfff
        let minor = UInt64(st.st_dev) & 0xff | (UInt64(st.st_dev) >> 12) & ~0xff
        // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:131 0 EOF" (device in hex, inode decimal)
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true)
            guard f.count >= 6, f[1] == "FLOCK", let pid = Int32(f[4]) else { continue }
            let id = f[5].split(separator: ":")
            guard id.count == 3, UInt64(id[0], radix: 16) == major, UInt64(id[1], radix: 16) == minor,
                  UInt64(id[2]) == UInt64(st.st_ino) else { continue }
            if pid > 0 && (kill(pid, 0) == 0 || errno == EPERM) { return pid }
        }
        return nil
    }
}
