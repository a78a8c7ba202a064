#if canImport(Glibc)
import Glibc
#endif

/// The auditd plugin configuration that makes auditd hand killdb every event as it happens
/// (`killdb plugin`): a plugins.d file, checked against what auditd 3 accepts.
public struct PluginInstallation: Sendable {
    public static let defaultDirectory = "/etc/audit/plugins.d"
    public let directory: String
    public var filePath: String { directory + "/killdb.conf" }

    public init(directory: String = PluginInstallation.defaultDirectory) {
        self.directory = directory
    }

    /// The file's text. auditd passes at most two arguments and no environment, so the
    /// database goes in one word, `--db=PATH`; it skips lines over 160 bytes.
    public static func configuration(binary: String, database: String) throws(AuditRulesError) -> String {
        guard binary.hasPrefix("/"), database.hasPrefix("/") else {
            throw .pluginRefused("the binary and the database must be absolute paths (\(binary), \(database))")
        }
        guard !database.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" }) else {
            throw .pluginRefused("auditd splits plugin arguments at spaces: choose a database path without spaces (\(database))")
        }
        let lines = [
            "active = yes", "direction = out", "path = \(binary)", "type = always",
            "args = plugin --db=\(database)", "format = string",
        ]
        if let long = lines.first(where: { $0.utf8.count > 160 }) {
            throw .pluginRefused("auditd ignores plugin configuration lines over 160 bytes: \(long)")
        }
        return """
            # auditd plugin: killdb stores signal events as they happen. Written by
            # `killdb rules install --plugin`; removed by `killdb rules remove --plugin`.
            \(lines.joined(separator: "\n"))

            """
    }

    /// Writes the file (root, 0640). auditd only starts a plugin binary that root owns and
    /// others cannot write, so that is checked first.
    public func install(binary: String, database: String) throws(AuditRulesError) -> String {
        guard geteuid() == 0 else { throw .notRoot(action: "installing the auditd plugin") }
        var st = stat()
        guard stat(binary, &st) == 0 else { throw .pluginRefused("cannot find the killdb binary \(binary)") }
        guard st.st_uid == 0, st.st_mode & 0o022 == 0 else {
            throw .pluginRefused("auditd runs only plugins owned by root and not writable by others: install killdb first (scripts/install puts it in /usr/local/bin), then run that copy")
        }
        let text = try Self.configuration(binary: binary, database: database)
        var dirStat = stat()
        guard stat(directory, &dirStat) == 0 else { throw .rulesDirectoryMissing(directory) }
        let tmp = filePath + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw .fileNotWritten(path: filePath, reason: String(cString: strerror(errno))) }
        let bytes = Array(text.utf8)
        let written = write(fd, bytes, bytes.count)
        close(fd)
        guard written == bytes.count, rename(tmp, filePath) == 0 else {
            unlink(tmp)
            throw .fileNotWritten(path: filePath, reason: String(cString: strerror(errno)))
        }
        return text
    }

    /// Deletes the file; false when there was none.
    public func remove() throws(AuditRulesError) -> Bool {
        if unlink(filePath) == 0 { return true }
        if errno == ENOENT { return false }
        throw .fileNotRemoved(path: filePath, reason: String(cString: strerror(errno)))
    }

    /// Asks the running auditd to re-read its plugins (SIGHUP); false when none runs.
    public static func reloadAuditd(_ auditctl: Auditctl) throws(AuditRulesError) -> Bool {
        guard let pid = try auditctl.status()["pid"].flatMap({ Int32($0) }), pid > 0 else { return false }
        return kill(pid, SIGHUP) == 0
    }
}
