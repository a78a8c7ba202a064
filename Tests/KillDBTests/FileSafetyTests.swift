import Foundation
import KillDB
import Store
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The files root writes beside the database: a user who can create names there must not
/// be able to point root's writes (or reads) at a file of their choosing.
@Suite("files root writes: no links followed, private directories")
struct FileSafetyTests {
    static let precious = "root:$6$precious:19000:0:99999:7:::\n"

    func log(_ dir: URL) throws -> URL {
        let file = dir.appendingPathComponent("audit.log")
        try TestLogs.write(AuditLine.killEvent("1700005000.000:10", target: 7001), to: file)
        try TestLogs.age(file)
        return file
    }

    func victim(_ dir: URL) throws -> URL {
        let v = dir.appendingPathComponent("shadow")
        try TestLogs.write(Self.precious, to: v)
        return v
    }

    func unchanged(_ v: URL) throws -> Bool {
        try String(contentsOf: v, encoding: .utf8) == Self.precious
    }

    @Test("a lock file that is a symbolic link is refused, and its target is not truncated")
    func lockFileSymlink() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let v = try victim(dir)
            try FileManager.default.createSymbolicLink(atPath: db.path + ".lock", withDestinationPath: v.path)
            #expect(throws: StoreError.self) { try TestLogs.ingest([try log(dir)], db: db) }
            #expect(try unchanged(v))
        }
    }

    @Test("a database name that is a symbolic link is refused: no database made where it points")
    func databaseSymlink() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let elsewhere = dir.appendingPathComponent("elsewhere.sqlite")
            try FileManager.default.createSymbolicLink(atPath: db.path, withDestinationPath: elsewhere.path)
            let error = #expect(throws: StoreError.self) { try TestLogs.ingest([try log(dir)], db: db) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("symbolic link"))
            #expect(!FileManager.default.fileExists(atPath: elsewhere.path))
        }
    }

    @Test("a database, -wal or lock name that is a hard link to another file is refused",
          arguments: ["", "-wal", ".lock"])
    func hardLinks(_ suffix: String) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let v = try victim(dir)
            #expect(link(v.path, db.path + suffix) == 0)
            #expect(throws: StoreError.self) { try TestLogs.ingest([try log(dir)], db: db) }
            #expect(try unchanged(v))
        }
    }

    @Test("a -wal or -shm name that is a symbolic link is refused before SQLite opens it",
          arguments: ["-wal", "-shm", "-journal"])
    func sqliteFilesSymlinked(_ suffix: String) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let v = try victim(dir)
            try FileManager.default.createSymbolicLink(atPath: db.path + suffix, withDestinationPath: v.path)
            #expect(throws: StoreError.self) { try TestLogs.ingest([try log(dir)], db: db) }
            #expect(try unchanged(v))
        }
    }

    @Test("the plugin's spool is never opened through a link: its target is neither truncated nor replayed")
    func spoolSymlink() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            // What the link points at looks like spooled records: replaying it would forge a kill.
            let v = dir.appendingPathComponent("planted")
            let planted = AuditLine.killEvent("1700005100.000:20", target: 31545)
            try TestLogs.write(planted, to: v)
            try FileManager.default.createSymbolicLink(atPath: db.path + ".spool", withDestinationPath: v.path)
            let plugin = try PluginTests.Running(db: db, options: PluginTests.options())
            plugin.send(AuditLine.killEvent("1700005100.000:21", target: 7002) + "type=EOE msg=audit(1700005100.000:21): \n")
            _ = try plugin.finish()
            #expect(try String(contentsOf: v, encoding: .utf8) == planted)
            #expect(try TestLogs.signals(db, where: "target_pid = 31545").isEmpty)
            #expect(try TestLogs.signals(db, where: "target_pid = 7002").count == 1)
        }
    }

    @Test("a directory others may write is refused (sticky or not), and nothing is created in it",
          arguments: [0o777, 0o1777, 0o775] as [mode_t])
    func writableDirectoryRefused(_ mode: mode_t) throws {
        try TestLogs.withScratch { dir in
            let shared = dir.appendingPathComponent("shared")
            try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: false)
            chmod(shared.path, mode)
            let db = shared.appendingPathComponent("k.sqlite")
            let error = #expect(throws: StoreError.self) { try TestLogs.ingest([try log(dir)], db: db) }
            #expect("\(error.map { "\($0)" } ?? "")".contains("may write the directory"))
            #expect(try FileManager.default.contentsOfDirectory(atPath: shared.path).isEmpty)
        }
    }

    @Test("directories are created 0750 whatever the umask; the database 0600")
    func directoryModes() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("new/sub/k.sqlite")
            let logFile = try log(dir)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "umask 000; exec \"$0\" ingest --db \"$1\" \"$2\"", CLI.binary, db.path, logFile.path]
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            #expect(p.terminationStatus == 0)
            func mode(_ path: String) -> mode_t {
                var st = stat()
                return stat(path, &st) == 0 ? st.st_mode & 0o7777 : 0
            }
            #expect(mode(dir.appendingPathComponent("new").path) == 0o750)
            #expect(mode(dir.appendingPathComponent("new/sub").path) == 0o750)
            #expect(mode(db.path) == 0o600)
            #expect(mode(db.path + ".lock") == 0o600)
        }
    }

    @Test("a directory that cannot be made is reported with the real reason and the path",
          .enabled(if: geteuid() == 0 && FileManager.default.fileExists(atPath: "/usr/sbin/runuser")))
    func mkdirFailureReason() throws {
        try TestLogs.withScratch { dir in
            chmod(dir.path, 0o755)
            let logFile = try log(dir)
            chmod(logFile.path, 0o644)
            let db = dir.appendingPathComponent("sub/k.sqlite")
            let r = try CLI.run(["ingest", "--db", db.path, logFile.path], asUser: "nobody")
            #expect(r.status == 2)
            #expect(r.stderr.contains("Permission denied") && r.stderr.contains(dir.appendingPathComponent("sub").path),
                    "\(r.stderr)")
            #expect(!r.stderr.contains("No such file"), "\(r.stderr)")
        }
    }

    @Test("the lock holder is named from the kernel's locks, not from a stale pid in the lock file")
    func lockHolderIsTheRealOne() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            try TestLogs.write("999999\n", to: URL(fileURLWithPath: db.path + ".lock"))
            let holder = Process()
            holder.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
            holder.arguments = ["-x", db.path + ".lock", "sleep", "30"]
            try holder.run()
            defer { holder.terminate(); holder.waitUntilExit() }
            // Wait until it holds the lock.
            let held = PluginTests.eventually(5) {
                (try? String(contentsOfFile: "/proc/locks", encoding: .utf8))?.contains(" \(holder.processIdentifier) ") ?? false
            }
            #expect(held)
            var options = IngestOptions()
            options.lockWait = 0.2
            let error = #expect(throws: IngestError.self) { try TestLogs.ingest([try log(dir)], db: db, options: options) }
            let message = error.map { "\($0)" } ?? ""
            #expect(message.contains("pid \(holder.processIdentifier)"), "\(message)")
            #expect(!message.contains("999999"), "\(message)")
        }
    }
}
