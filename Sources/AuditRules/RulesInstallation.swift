import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// killdb's rules on this machine: the persistent file in rules.d (augenrules builds the
/// boot rules from that directory) and the rules loaded now, both identified by the key.
///
/// Only rules carrying the key are ever loaded or deleted: never `augenrules --load` or a
/// bare `auditctl -D`, which would replace the operator's own rules too, and not
/// `auditctl -D -k KEY` either: auditctl matches that key as a substring (strstr), so
/// `-D -k killdb` also deletes rules keyed `killdb-web` or `nokilldb`.
public struct RulesInstallation: Sendable {
    public static let defaultDirectory = "/etc/audit/rules.d"

    public var directory: String
    public var key: String
    public var auditctl: Auditctl

    public init(directory: String = RulesInstallation.defaultDirectory, key: String = RuleSet.defaultKey,
                auditctl: Auditctl) throws(AuditRulesError) {
        guard RuleSet.isValidKey(key) else { throw .invalidKey(key) }
        self.directory = directory
        self.key = key
        self.auditctl = auditctl
    }

    public var filePath: String { directory + "/" + RuleSet.fileName(key: key) }

    /// Writes the file and replaces the loaded rules with this key by the file's rules.
    /// Returns the loaded rules with the key, as `auditctl -l` lists them.
    ///
    /// The rules are loaded from a temporary file first and only then renamed into rules.d:
    /// a file auditctl rejects must not get there, as augenrules would put it in the boot
    /// rules and auditctl stops loading those at the first bad line.
    @discardableResult
    public func install(signals: SignalSelection, generator: String = "killdb") throws(AuditRulesError) -> [String] {
        try Self.requireRoot("installing audit rules")
        let rules = try RuleSet(signals: signals, key: key)
        let temporary = try writeTemporary(rules.fileText(generator: generator))
        do throws(AuditRulesError) {
            if try auditctl.isLocked() {
                try commit(temporary)
                throw .rulesLocked(fileChange: "\(filePath) is installed and takes effect at next boot")
            }
            try unload()
            let loaded = try auditctl.run(["-R", temporary])
            guard loaded.status == 0 else {
                // -R stops at the first bad line: take back what it loaded, restore the old file's.
                _ = try? unload()
                if FileManager.default.fileExists(atPath: filePath) { _ = try? auditctl.run(["-R", filePath]) }
                let output = (loaded.stderr + loaded.stdout).split(whereSeparator: \.isNewline).joined(separator: "; ")
                throw .rulesRejected(output: output)
            }
            try commit(temporary)
        } catch {
            _ = unlink(temporary)
            throw error
        }
        return try loadedWithKey()
    }

    public struct Removal: Sendable, Equatable {
        public var fileRemoved: Bool
        public var rulesUnloaded: Int

        public init(fileRemoved: Bool, rulesUnloaded: Int) {
            self.fileRemoved = fileRemoved
            self.rulesUnloaded = rulesUnloaded
        }
    }

    /// Deletes the file and the loaded rules with the key, nothing else.
    @discardableResult
    public func remove() throws(AuditRulesError) -> Removal {
        try Self.requireRoot("removing audit rules")
        var removed = false
        if FileManager.default.fileExists(atPath: filePath) {
            guard unlink(filePath) == 0 else {
                throw .fileNotRemoved(path: filePath, reason: String(cString: strerror(errno)))
            }
            removed = true
        }
        if try auditctl.isLocked() {
            throw .rulesLocked(fileChange: removed ? "\(filePath) is removed and its rules go at next boot"
                                                   : "the loaded rules go at next boot if no file under \(directory) has them")
        }
        return Removal(fileRemoved: removed, rulesUnloaded: try unload())
    }

    /// What is loaded with the key against what the file says, and the lint of every loaded rule.
    public func status() throws(AuditRulesError) -> RulesStatus {
        try Self.requireRoot("listing the loaded audit rules")
        let loaded = try auditctl.loadedRules()
        var fileRules: [String]?
        if FileManager.default.fileExists(atPath: filePath) {
            do {
                let text = try String(contentsOfFile: filePath, encoding: .utf8)
                fileRules = text.split(whereSeparator: \.isNewline).map(String.init).filter { AuditRule($0) != nil }
            } catch {
                throw .fileUnreadable(path: filePath, reason: error.localizedDescription)
            }
        }
        return RulesStatus(key: key, filePath: filePath, fileRules: fileRules, loadedRules: loaded,
                           locked: try auditctl.isLocked())
    }

    /// Deletes each loaded rule carrying exactly this key, by its own `auditctl -l` line
    /// turned into a delete (`-a` → `-d`, `-w` → `-W`; auditctl reads back what it lists).
    /// Returns how many went.
    @discardableResult
    public func unload() throws(AuditRulesError) -> Int {
        var count = 0
        for line in try loadedWithKey() {
            var arguments = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            switch arguments.first {
            case "-a", "-A": arguments[0] = "-d"
            case "-w": arguments[0] = "-W"
            default: continue
            }
            do {
                try auditctl.check(arguments)
                count += 1
            } catch {
                // Someone else may have deleted it meanwhile; only a rule still there is a failure.
                if try loadedWithKey().contains(line) { throw error }
            }
        }
        return count
    }

    /// The loaded rules carrying the key.
    public func loadedWithKey() throws(AuditRulesError) -> [String] {
        try auditctl.loadedRules().filter { AuditRule($0)?.keys.contains(key) == true }
    }

    static func requireRoot(_ action: String) throws(AuditRulesError) {
        guard geteuid() == 0 else { throw .notRoot(action: action) }
    }

    /// Written beside the target, to be renamed over it, so augenrules never reads half a
    /// file. The temporary name does not end in .rules, so augenrules ignores it.
    private func writeTemporary(_ text: String) throws(AuditRulesError) -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw .rulesDirectoryMissing(directory)
        }
        let temporary = directory + "/." + RuleSet.fileName(key: key) + ".tmp"
        _ = unlink(temporary)
        // Root-owned and not world-writable, as auditctl -R demands of a rules file.
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8),
                                             attributes: [.posixPermissions: 0o640]) else {
            throw .fileNotWritten(path: filePath, reason: "cannot create \(temporary)")
        }
        return temporary
    }

    private func commit(_ temporary: String) throws(AuditRulesError) {
        guard rename(temporary, filePath) == 0 else {
            throw .fileNotWritten(path: filePath, reason: String(cString: strerror(errno)))
        }
    }
}

/// `killdb rules status`: the installed file against the loaded rules with its key, and
/// the lint findings for every loaded rule.
public struct RulesStatus: Sendable {
    public var key: String
    public var filePath: String
    /// The file's rule lines; nil when there is no file.
    public var fileRules: [String]?
    /// Every loaded rule, as `auditctl -l` lists it.
    public var loadedRules: [String]
    public var locked: Bool

    public init(key: String, filePath: String, fileRules: [String]?, loadedRules: [String], locked: Bool) {
        self.key = key
        self.filePath = filePath
        self.fileRules = fileRules
        self.loadedRules = loadedRules
        self.locked = locked
    }

    /// Loaded rules carrying the key.
    public var loadedWithKey: [String] { loadedRules.filter { AuditRule($0)?.keys.contains(key) == true } }

    /// File rules that are not loaded, and loaded rules (with the key) not in the file,
    /// compared by meaning: `auditctl -l` respells what it loads.
    public var notLoaded: [String] { Self.subtract(fileRules ?? [], loadedWithKey) }
    public var notInFile: [String] { Self.subtract(loadedWithKey, fileRules ?? []) }

    public var matches: Bool { fileRules != nil && notLoaded.isEmpty && notInFile.isEmpty }
    public var findings: [RuleFinding] { RuleLint.findings(in: loadedRules) }
    public var isClean: Bool { matches && findings.isEmpty }

    /// `a` minus `b` as multisets of canonical rules, in `a`'s order.
    public static func subtract(_ a: [String], _ b: [String]) -> [String] {
        var remaining: [String: Int] = [:]
        for line in b { if let r = AuditRule(line) { remaining[r.canonical, default: 0] += 1 } }
        return a.filter { line in
            guard let c = AuditRule(line)?.canonical else { return false }
            if let n = remaining[c], n > 0 { remaining[c] = n - 1; return false }
            return true
        }
    }

    /// The report for the operator.
    public var text: String {
        var out = ""
        let keyArgument = key == RuleSet.defaultKey ? "" : " --key \(key)"
        if let fileRules {
            out += "Installed: \(filePath) (\(fileRules.count) rules)\n"
        } else {
            out += "Installed: no \(filePath)\n"
        }
        let ours = loadedWithKey
        out += "Loaded with key \(key): \(ours.count) of \(loadedRules.count) loaded rules\n"
        for line in ours { out += "  \(line)\n" }
        if matches {
            out += "The loaded rules match the file.\n"
        } else if fileRules == nil && ours.isEmpty {
            out += "killdb's rules are not installed: run `killdb rules install\(keyArgument)`.\n"
        } else {
            for line in notLoaded { out += "In the file but not loaded: \(line)\n" }
            for line in notInFile { out += "Loaded but not in the file: \(line)\n" }
            out += fileRules == nil
                ? "No file: run `killdb rules install\(keyArgument)` to make the rules persistent, or `killdb rules remove\(keyArgument)`.\n"
                : "Run `killdb rules install\(keyArgument)` to load the file's rules again.\n"
        }
        if locked { out += "The loaded rules are locked (-e 2) until reboot: changes take effect at next boot.\n" }
        let found = findings
        if found.isEmpty {
            out += "Lint of all \(loadedRules.count) loaded rules: no findings.\n"
        } else {
            out += "Lint of all \(loadedRules.count) loaded rules: \(found.count) finding\(found.count == 1 ? "" : "s"):\n"
            for f in found { out += "- " + f.description.replacingOccurrences(of: "\n", with: "\n  ") + "\n" }
        }
        return out
    }
}
