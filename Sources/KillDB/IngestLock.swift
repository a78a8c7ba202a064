import Foundation
import Store
#if canImport(Glibc)
import Glibc
#endif

/// The advisory lock that keeps two ingests off one database. A lock file beside the
/// database, held with flock: the kernel drops it when the holder dies, even by kill -9.
/// `killdb merge` takes it too: it writes the same tables.
public struct IngestLock {
    let fd: Int32

    public static func acquire(database: String, wait: Double) throws -> IngestLock {
        let path = database + ".lock"
        try DatabaseDirectory.prepare(forFile: database)
        let fd = try PrivateFile.open(path)
        let deadline = Date().addingTimeInterval(wait)
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            if Date() >= deadline {
                let holder = LockHolder.pid(holding: fd).map(String.init)
                close(fd)
                throw IngestError.locked(database: database, holder: holder)
            }
            usleep(100_000)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        return IngestLock(fd: fd)
    }

    public func release() {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
