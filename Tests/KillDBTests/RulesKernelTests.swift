import AuditRules
import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whether the real-kernel rules tests can run here; a separate type, as a suite's trait
/// cannot refer to the suite itself.
enum RulesKernelAvailability {
    static let auditctl = try? Auditctl.find()

    static let mustRun = ProcessInfo.processInfo.environment["CI"] == "true" && geteuid() == 0 && auditctl != nil

    static let shouldRun: Bool = {
        let reason: String? = {
            guard geteuid() == 0 else { return "not root" }
            guard let auditctl else { return "auditctl is not installed" }
            do {
                if try auditctl.isLocked() { return "the kernel's rules are locked (-e 2) until reboot" }
            } catch {
                return "`auditctl -s` failed (no kernel audit support?): \(error)"
            }
            return nil
        }()
        guard let reason else { return true }
        if mustRun {
            loud("*** real-kernel rules tests are REQUIRED here (CI=true, root, auditctl) but cannot run: \(reason) — they will FAIL ***")
            return true
        }
        loud("*** SKIPPING real-kernel rules tests: \(reason) ***")
        return false
    }()

    static func loud(_ message: String) {
        FileHandle.standardError.write(Data("\n\(message)\n\n".utf8))
    }
}

/// `killdb rules install/status/remove` against the real kernel's rule list.
///
/// Needs root and auditctl; skipped loudly otherwise, but under CI=true as root with auditctl
/// present a missing prerequisite fails. Every rule it loads carries a key unique to the run
/// and only those keys are ever deleted: an end-to-end suite may load its own rules meanwhile.
/// The rules filter SIGRTMAX and its neighbours, which no other test sends: the kernel logs an
/// event under the first matching rule's key, so rules matching SIGKILL could take other
/// suites' events.
// Nested in the end-to-end suite, whose .serialized keeps it from running while another
// real-kernel suite sends signals that its rules would also match.
extension EndToEndKernelTests {
    @Suite("rules on the real kernel", .serialized, .enabled(if: RulesKernelAvailability.shouldRun))
    struct RulesKernelTests {
        static let signals = "RTMAX-2,RTMAX-1,RTMAX"

        /// A fresh rules directory and unique keys; removes every rule with those keys afterwards.
        func withScratch(_ body: (_ dir: String, _ key: String, _ otherKey: String, _ auditctl: Auditctl) throws -> Void) throws {
            let auditctl = try #require(RulesKernelAvailability.auditctl, "auditctl is required here")
            try #require(!(try auditctl.isLocked()), "the kernel's rules are locked (-e 2) until reboot")
            let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            // The other key contains ours: `auditctl -D -k` would take its rules too (substring match).
            let key = "killdb-rulestest-\(tag)", otherKey = "killdb-rulestest-\(tag)-other"
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("killdb-rules-\(tag)").path
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            defer {
                // Exact-key deletes only, as the code under test does.
                for k in [key, otherKey] { _ = try? RulesInstallation(directory: dir, key: k, auditctl: auditctl).unload() }
                try? FileManager.default.removeItem(atPath: dir)
            }
            try body(dir, key, otherKey, auditctl)
        }

        func withKey(_ key: String, _ lines: [String]) -> [String] {
            lines.filter { AuditRule($0)?.keys.contains(key) == true }
        }

        @Test("install loads our rules exactly once, again still once; status is clean; remove leaves other rules")
        func installStatusRemove() throws {
            try withScratch { dir, key, otherKey, auditctl in
                // An unrelated rule of "the operator", which nothing of ours may touch.
                let watch = dir + "/watched"
                try auditctl.check(["-w", watch, "-p", "wa", "-k", otherKey])
                // A syscall rule too, on a call that never passes its filter, so no event is logged.
                try auditctl.check(["-a", "always,exit", "-F", "arch=b64", "-S", "getpriority", "-F", "a0=4242", "-k", otherKey])
                let others = withKey(otherKey, try auditctl.loadedRules())
                try #require(others.count == 2)

                let selection = try SignalSelection.parse(Self.signals)
                let expected = try RuleSet(signals: selection, key: key)
                let installation = try RulesInstallation(directory: dir, key: key, auditctl: auditctl)

                let first = try installation.install(signals: selection)
                #expect(first.count == expected.rules.count)
                #expect(RulesStatus.subtract(first, expected.rules).isEmpty && RulesStatus.subtract(expected.rules, first).isEmpty,
                        "loaded:\n\(first.joined(separator: "\n"))")
                let text = try String(contentsOfFile: installation.filePath, encoding: .utf8)
                #expect(text == expected.fileText())
                #expect(installation.filePath == dir + "/killdb-\(key).rules")

                try installation.install(signals: selection)
                let again = withKey(key, try auditctl.loadedRules())
                #expect(again.count == expected.rules.count, "installing twice must leave one copy:\n\(again.joined(separator: "\n"))")
                #expect(withKey(otherKey, try auditctl.loadedRules()) == others, "installing must not touch other keys")
                #expect(Set(again).count == again.count)

                let status = try installation.status()
                #expect(status.matches, "\(status.text)")
                #expect(RuleLint.findings(in: status.loadedWithKey).isEmpty)
                // Other suites' rules may be loaded right now and have findings of their own;
                // with only ours, status must be clean (exit 0).
                let foreign = status.loadedRules.filter { line in
                    guard let r = AuditRule(line) else { return false }
                    return !r.keys.contains(key) && !r.signalSyscalls.isEmpty
                }
                if foreign.isEmpty { #expect(status.isClean, "\(status.text)") }

                let removal = try installation.remove()
                #expect(removal == .init(fileRemoved: true, rulesUnloaded: expected.rules.count))
                let after = try auditctl.loadedRules()
                #expect(withKey(key, after).isEmpty)
                #expect(!FileManager.default.fileExists(atPath: installation.filePath))
                #expect(withKey(otherKey, after) == others, "the operator's rules must stay")
                #expect(others.first == "-w \(watch) -p wa -k \(otherKey)")

                let status2 = try installation.status()
                #expect(!status2.matches && !status2.isClean)
                #expect(status2.text.contains("not installed"))
            }
        }

        @Test("remove with nothing installed does nothing and succeeds")
        func removeNothing() throws {
            try withScratch { dir, key, _, auditctl in
                let removal = try RulesInstallation(directory: dir, key: key, auditctl: auditctl).remove()
                #expect(removal == .init(fileRemoved: false, rulesUnloaded: 0))
            }
        }

        @Test("a rule loaded by hand but missing from the file is a mismatch")
        func handLoaded() throws {
            try withScratch { dir, key, _, auditctl in
                let installation = try RulesInstallation(directory: dir, key: key, auditctl: auditctl)
                try installation.install(signals: .only([64]))
                try auditctl.check(["-a", "always,exit", "-F", "arch=b64", "-S", "kill", "-F", "a1=63", "-k", key])
                let status = try installation.status()
                #expect(!status.matches && !status.isClean)
                #expect(status.notInFile == ["-a always,exit -F arch=b64 -S kill -F a1=0x3F -F key=\(key)"])
                // Installing again replaces every rule with the key, the stray one too.
                try installation.install(signals: .only([64]))
                #expect(try installation.status().matches)
            }
        }

        @Test("a directory that does not exist is refused before anything is loaded")
        func missingDirectory() throws {
            try withScratch { dir, key, _, auditctl in
                let installation = try RulesInstallation(directory: dir + "/absent", key: key, auditctl: auditctl)
                #expect(throws: AuditRulesError.rulesDirectoryMissing(dir + "/absent")) {
                    try installation.install(signals: .only([64]))
                }
                #expect(try installation.loadedWithKey().isEmpty)
            }
        }

        /// A stand-in auditctl: `-s` reports `enabled`, `-l` lists nothing, `-R` exits with
        /// `rStatus`; every call is appended to DIR/calls. For what the real kernel must not do.
        func fakeAuditctl(_ dir: String, enabled: Int, rStatus: Int) throws -> Auditctl {
            let path = dir + "/auditctl"
            let script = """
                #!/bin/sh
                echo "$*" >> \(dir)/calls
                case "$1" in
                  -s) echo "enabled \(enabled)"; echo "pid 0" ;;
                  -l) echo "No rules" ;;
                  -R) echo "Syscall name unknown: pidfd_send_signal" >&2; echo "There was an error in line 9 of $2" >&2; exit \(rStatus) ;;
                esac
                """
            try script.write(toFile: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
            return Auditctl(path: path)
        }

        @Test("locked rules (-e 2): the file is installed for next boot, nothing is loaded or deleted")
        func locked() throws {
            try withScratch { dir, key, _, _ in
                let fake = try fakeAuditctl(dir, enabled: 2, rStatus: 0)
                let installation = try RulesInstallation(directory: dir, key: key, auditctl: fake)
                #expect(throws: AuditRulesError.rulesLocked(fileChange: "\(installation.filePath) is installed and takes effect at next boot")) {
                    try installation.install(signals: .kill)
                }
                #expect(FileManager.default.fileExists(atPath: installation.filePath))
                #expect(try String(contentsOfFile: dir + "/calls", encoding: .utf8) == "-s\n")
                let error = AuditRulesError.rulesLocked(fileChange: "x")
                #expect(error.description.hasPrefix("the loaded rules are locked (-e 2) until reboot"))
            }
        }

        @Test("rules auditctl rejects never reach the rules directory")
        func rejected() throws {
            try withScratch { dir, key, _, _ in
                let fake = try fakeAuditctl(dir, enabled: 1, rStatus: 1)
                let installation = try RulesInstallation(directory: dir, key: key, auditctl: fake)
                #expect {
                    try installation.install(signals: .kill)
                } throws: { error in
                    guard case AuditRulesError.rulesRejected(let output) = error else { return false }
                    return output.contains("pidfd_send_signal")
                }
                let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
                #expect(left == ["auditctl", "calls"], "no rules file, no temporary file")
            }
        }
    }
}
