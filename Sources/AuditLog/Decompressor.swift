#if canImport(Glibc)
import Glibc
#endif

/// Rotated logs compressed by logrotate (`audit.log.1.gz`, `.xz`, `.bz2`, `.zst`) are read
/// through the system's own decompressor, streamed through a pipe: no library to link, and
/// memory stays flat.
public struct Decompressor {
    public enum Kind: String, Sendable {
        case gzip, xz, bzip2, zstd

        var program: String { rawValue }
        /// The Debian package that provides the program, for the error message.
        var package: String {
            switch self {
            case .gzip: return "gzip"
            case .xz: return "xz-utils"
            case .bzip2: return "bzip2"
            case .zstd: return "zstd"
            }
        }
    }

    /// The kind of compression a path's name says, nil for a plain log.
    public static func kind(of path: String) -> Kind? {
        if path.hasSuffix(".gz") { return .gzip }
        if path.hasSuffix(".xz") { return .xz }
        if path.hasSuffix(".bz2") { return .bzip2 }
        if path.hasSuffix(".zst") { return .zstd }
        return nil
    }

    public let pid: pid_t
    /// The read end of the pipe carrying the decompressed log.
    public let fd: Int32

    /// Starts `kind`'s decompressor on the already open file `input`.
    public static func start(_ kind: Kind, input: Int32, path: String) throws(AuditLogError) -> Decompressor {
        guard let program = ["/usr/bin/", "/bin/"].map({ $0 + kind.program }).first(where: { access($0, X_OK) == 0 }) else {
            throw .unreadable(path: path, reason: "it is \(kind.rawValue)-compressed and \(kind.program) is not installed (apt-get install \(kind.package))")
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            throw .unreadable(path: path, reason: String(cString: strerror(errno)))
        }
        // Neither end may leak into other children; dup2 gives the decompressor its own.
        for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, input, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        // Its complaints would garble our output; a damaged archive shows in its exit status.
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // Start from the beginning of the file whatever its descriptor's position.
        lseek(input, 0, SEEK_SET)
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup(program), strdup("-dc"), nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, program, &actions, nil, argv, environ)
        close(pipeFDs[1])
        guard rc == 0 else {
            close(pipeFDs[0])
            throw .unreadable(path: path, reason: "cannot run \(program): \(String(cString: strerror(rc)))")
        }
        return Decompressor(pid: pid, fd: pipeFDs[0])
    }

    /// Waits for the decompressor; an error if the archive was damaged.
    public func finish(path: String) throws(AuditLogError) {
        close(fd)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        if !exited || code != 0 {
            throw .unreadable(path: path, reason: "the decompressor reported a damaged archive (exit status \(code)); the records before the damage were read")
        }
    }

    /// Stops the decompressor early (on an error elsewhere).
    public func abandon() {
        close(fd)
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}
