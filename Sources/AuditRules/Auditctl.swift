import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The `auditctl` program: the only way killdb changes or reads the kernel's rules.
public struct Auditctl: Sendable {
    public var path: String

    public init(path: String) { self.path = path }

    /// Where auditctl is looked for, in order: absolute system directories only. $PATH is
    /// not consulted: killdb runs as root, and a relative or user-writable $PATH entry would
    /// run whatever program is there.
    public static let standardDirectories = ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]

    public static func find(in directories: [String] = standardDirectories) throws(AuditRulesError) -> Auditctl {
        let dirs = directories.filter { $0.hasPrefix("/") }
        guard let dir = dirs.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/auditctl") }) else {
            throw .auditctlMissing
        }
        return Auditctl(path: dir + "/auditctl")
    }

    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs auditctl; throws only if it cannot be started.
    public func run(_ arguments: [String]) throws(AuditRulesError) -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = arguments
        p.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        do { try p.run() } catch {
            throw .auditctlFailed(command: command(arguments), status: -1, output: "\(error)")
        }
        // Drain stderr concurrently so neither pipe can fill and block auditctl.
        nonisolated(unsafe) var errData = Data()
        let drained = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            errData = err.fileHandleForReading.readDataToEndOfFile()
            drained.signal()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        p.waitUntilExit()
        return Output(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs auditctl and throws its own message when it fails.
    @discardableResult
    public func check(_ arguments: [String]) throws(AuditRulesError) -> String {
        let r = try run(arguments)
        guard r.status == 0 else {
            let message = (r.stderr + r.stdout).split(whereSeparator: \.isNewline).joined(separator: "; ")
            throw .auditctlFailed(command: command(arguments), status: r.status, output: message)
        }
        return r.stdout
    }

    func command(_ arguments: [String]) -> String { (["auditctl"] + arguments).joined(separator: " ") }

    /// `auditctl -s` as name → value (`enabled` → 1).
    public func status() throws(AuditRulesError) -> [String: String] {
        var values: [String: String] = [:]
        for line in try check(["-s"]).split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        return values
    }

    /// `enabled 2`: rules cannot change until reboot.
    public func isLocked() throws(AuditRulesError) -> Bool { try status()["enabled"] == "2" }

    /// The loaded rules, one `auditctl -l` line each.
    public func loadedRules() throws(AuditRulesError) -> [String] {
        try check(["-l"]).split(whereSeparator: \.isNewline).map(String.init).filter { $0 != "No rules" }
    }
}
