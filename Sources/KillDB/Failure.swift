import AuditLog
import Store
import Tracer

/// Sorts errors from every module into what the CLI reports them as.
public enum Failure {
    public enum Kind: Sendable { case usage, logs, database, busy, corrupt, tracerUnavailable }

    public static func kind(of error: any Error) -> Kind {
        switch error {
        case is AuditLogError: return .logs
        case let e as IngestError:
            if case .locked = e { return .busy }
            return .database
        case let e as TracerError:
            if case .unavailable = e { return .tracerUnavailable }
            if case .badSignals = e { return .usage }
            return .tracerUnavailable
        case let e as StoreError:
            if case .busy = e { return .busy }
            if case .corrupt = e { return .corrupt }
            return .database
        default: return .usage
        }
    }
}

/// Where the database lives unless --db or KILLDB_DB says otherwise.
public let defaultDatabasePath = SignalStore.defaultPath

// The errors callers may need to tell apart, without importing every module.
public typealias AuditLogError = AuditLog.AuditLogError
public typealias StoreError = Store.StoreError
public typealias TracerError = Tracer.TracerError
