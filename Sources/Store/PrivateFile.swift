import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The directory a database lives in, made and checked before root writes anything there.
///
/// Root writes the database, its lock file, its spool and SQLite's -wal, -shm and -journal
/// files by name in this directory. Whoever else may create names in it could plant a
/// symbolic or hard link under one of those names and have root truncate, write or read a
/// file of their choosing. So a directory that anyone but its owner (root, or the user
/// running killdb) may write is refused: group- or world-writable, sticky or not (the sticky
/// bit stops renames and deletions, not the planting of a name killdb has yet to create).
public enum DatabaseDirectory {
    /// Mode of the directories killdb creates: the database holds every command line that
    /// sent a signal, so it is not for everyone to list.
    public static let mode: mode_t = 0o750

    /// Creates the directory that will hold `file` (and its missing parents) mode 0750,
    /// whatever the umask, and checks that nobody but its owner can write it.
    public static func prepare(forFile file: String) throws(StoreError) {
        let dir = (file as NSString).deletingLastPathComponent
        try create(dir.isEmpty ? "." : dir)
        try check(dir.isEmpty ? "." : dir)
    }

    /// `mkdir -p` with an explicit mode, reporting the component that failed and why.
    static func create(_ dir: String) throws(StoreError) {
        var st = stat()
        if stat(dir, &st) == 0 { return }
        var prefix = dir.hasPrefix("/") ? "" : "."
        for part in dir.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += "/" + part
            if stat(prefix, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFDIR else {
                    throw .cannotCreateDirectory(path: dir, reason: "\(prefix) is not a directory")
                }
                continue
            }
            guard mkdir(prefix, mode) == 0 || errno == EEXIST else {
                throw .cannotCreateDirectory(path: dir, reason: "mkdir \(prefix): \(String(cString: strerror(errno)))")
            }
            // mkdir's mode is cut by the umask; set the intended one on what was made.
            let fd = open(prefix, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            if fd >= 0 {
                _ = fchmod(fd, mode)
                close(fd)
            }
        }
    }

    /// Refuses a directory that a user other than its owner may write, or whose owner is
    /// neither root nor the user running killdb.
    public static func check(_ dir: String) throws(StoreError) {
        var st = stat()
        guard stat(dir, &st) == 0 else {
            throw .cannotOpen(path: dir, reason: String(cString: strerror(errno)))
        }
        let me = geteuid()
        if st.st_uid != 0 && st.st_uid != me {
            throw .unsafeLocation(path: dir, reason: "the directory is owned by uid \(st.st_uid), not by root or uid \(me) (who runs killdb): its owner could replace the database's files. Use a directory of root's, e.g. /var/lib/killdb")
        }
        if st.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            let who = st.st_mode & S_IWOTH != 0 ? "any user" : "its group"
            throw .unsafeLocation(path: dir, reason: "\(who) may write the directory (mode \(String(st.st_mode & 0o7777, radix: 8))), and could plant links where killdb creates files. Use a directory only its owner may write (chmod go-w), e.g. /var/lib/killdb")
        }
    }
}

/// A file root opens for writing by name (lock file, spool, database): never through a
/// symbolic link, created 0600 with O_EXCL when missing, and checked once open to be a
/// regular file of this user's with no other name (a hard link to /etc/shadow is a file
/// with two names).
public enum PrivateFile {
    public struct Identity: Equatable, Sendable {
        public var device: UInt64
        public var inode: UInt64
    }

    /// Opens `path` read-write with `extraFlags` (O_APPEND ...), creating it if missing.
    public static func open(_ path: String, extraFlags: Int32 = 0) throws(StoreError) -> Int32 {
        let flags = O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | extraFlags
        var fd = systemOpen(path, flags | O_CREAT | O_EXCL, 0o600)
        if fd < 0 && errno == EEXIST { fd = systemOpen(path, flags) }
        guard fd >= 0 else {
            let e = errno
            if e == ELOOP {
                throw .unsafeLocation(path: path, reason: "it is a symbolic link; killdb opens its files only by their own name")
            }
            throw .cannotOpen(path: path, reason: String(cString: strerror(e)))
        }
        do throws(StoreError) {
            try verify(fd: fd, path: path)
        } catch {
            close(fd)
            throw error
        }
        // O_NONBLOCK was only for the open (a FIFO planted under the name must not hang it).
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// Checks an open file: regular, owned by this user, one link.
    static func verify(fd: Int32, path: String) throws(StoreError) {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        try verify(st, path: path)
    }

    static func verify(_ st: stat, path: String) throws(StoreError) {
        guard st.st_mode & S_IFMT == S_IFREG else {
            throw .unsafeLocation(path: path, reason: "it is not a regular file")
        }
        guard st.st_uid == geteuid() else {
            throw .unsafeLocation(path: path, reason: "it is owned by uid \(st.st_uid), not by uid \(geteuid()) who runs killdb")
        }
        guard st.st_nlink <= 1 else {
            throw .unsafeLocation(path: path, reason: "it has \(st.st_nlink) names (hard links); killdb writes only files of its own")
        }
    }

    /// The file at `path` as it is now, without following a link: nil when absent; throws
    /// when something other than a private regular file has that name.
    public static func identity(_ path: String) throws(StoreError) -> Identity? {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return nil }
            throw .cannotOpen(path: path, reason: String(cString: strerror(errno)))
        }
        if st.st_mode & S_IFMT == S_IFLNK {
            throw .unsafeLocation(path: path, reason: "it is a symbolic link; killdb opens its files only by their own name")
        }
        try verify(st, path: path)
        return Identity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino))
    }
}

private func systemOpen(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 {
    #if canImport(Glibc)
    Glibc.open(path, flags, mode)
    #else
    Darwin.open(path, flags, mode)
    #endif
}
