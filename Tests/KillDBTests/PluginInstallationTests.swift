import AuditRules
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("the auditd plugin configuration killdb installs")
struct PluginInstallationTests {
    @Test("the database is one --db= word, as auditd passes at most two arguments")
    func configuration() throws {
        let text = try PluginInstallation.configuration(binary: "/usr/local/bin/killdb", database: "/var/lib/killdb/killdb.sqlite")
        #expect(text.contains("\npath = /usr/local/bin/killdb\n"))
        #expect(text.contains("\nargs = plugin --db=/var/lib/killdb/killdb.sqlite\n"))
        #expect(text.contains("\nformat = string\n") && text.contains("\ndirection = out\n"))
    }

    @Test("paths auditd would mangle are refused with the reason")
    func refused() {
        #expect(throws: AuditRulesError.self) { try PluginInstallation.configuration(binary: "/bin/killdb", database: "/srv/my db.sqlite") }
        #expect(throws: AuditRulesError.self) { try PluginInstallation.configuration(binary: "killdb", database: "/k.sqlite") }
        let long = "/" + String(repeating: "d", count: 200) + ".sqlite"
        #expect(throws: AuditRulesError.self) { try PluginInstallation.configuration(binary: "/bin/killdb", database: long) }
    }

    @Test("install writes a 0640 file, refuses a binary others can write, and remove deletes it",
          .enabled(if: geteuid() == 0))
    func installAndRemove() throws {
        try TestLogs.withScratch { dir in
            let plugins = dir.appendingPathComponent("plugins.d").path
            try FileManager.default.createDirectory(atPath: plugins, withIntermediateDirectories: true)
            let binary = dir.appendingPathComponent("killdb").path
            try Data("#!/bin/sh\n".utf8).write(to: URL(fileURLWithPath: binary))
            chmod(binary, 0o777)
            let installation = PluginInstallation(directory: plugins)
            #expect(throws: AuditRulesError.self) { try installation.install(binary: binary, database: "/tmp/k.sqlite") }
            chmod(binary, 0o750)
            _ = try installation.install(binary: binary, database: "/tmp/k.sqlite")
            var st = stat()
            #expect(stat(installation.filePath, &st) == 0 && st.st_mode & 0o777 == 0o640)
            #expect(try installation.remove())
            #expect(try !installation.remove())
        }
    }
}
