import Foundation

/// How one check came out. `warn` and `FAIL` need action; `skip` means the check could
/// not look (not root, nothing to look at) and is not counted against the host.
public enum CheckStatus: String, Sendable, Codable, CaseIterable {
    case ok
    case warn
    case fail = "FAIL"
    case skip

    public var needsAction: Bool { self == .warn || self == .fail }
}

/// The result of one check: what was found and, when it is not ok, a concrete command.
public struct Check: Sendable, Equatable, Codable {
    /// Stable name for scripts: auditd, enabled, rules, boot, backlog, logs, retention, database.
    public var id: String
    public var title: String
    public var status: CheckStatus
    public var found: String
    public var action: String?
    /// Further lines: each lint finding with its fix, the retention arithmetic.
    public var details: [String]
    /// Numbers behind `found`, for JSON readers (seconds, bytes, counts).
    public var values: [String: Double]

    public init(id: String, title: String, status: CheckStatus, found: String, action: String? = nil,
                details: [String] = [], values: [String: Double] = [:]) {
        self.id = id
        self.title = title
        self.status = status
        self.found = found
        self.action = action
        self.details = details
        self.values = values
    }
}

/// Something gathered from the host for a check, or why it could not be.
public enum Probe<Value: Sendable>: Sendable {
    case value(Value)
    /// Not looked at, and that is not a problem of the host (e.g. "needs root").
    case skipped(String)
    /// Looking failed in a way the operator must fix (auditctl missing, no kernel audit).
    case failed(String)

    public var value: Value? {
        if case .value(let v) = self { return v }
        return nil
    }
}

extension Probe: Equatable where Value: Equatable {}
