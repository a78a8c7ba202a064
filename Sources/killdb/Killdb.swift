import ArgumentParser
import AuditRules
import Foundation
import KillDB
import Output
import Queries
import Store
import TimeArguments

/// Exit codes, documented in the README and in `killdb --help`.
enum Exit {
    static let ok: Int32 = 0
    static let nothingFound: Int32 = 1
    static let usageOrDatabase: Int32 = 2
    static let logsUnreadable: Int32 = 3
    /// SQLite reports the database damaged: nothing was written to it or answered from it.
    static let corrupt: Int32 = 4
    /// `killdb trace`: BPF cannot be used here (no BTF, no privilege, lockdown, old kernel).
    static let tracerUnavailable: Int32 = 5
    /// EX_TEMPFAIL: another ingest holds the database; a scheduler may simply retry.
    static let busy: Int32 = 75
}

@main
struct Killdb: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "killdb",
        abstract: "Find out who sent SIGKILL: audit logs kept in SQLite, past log rotation.",
        discussion: """
            killdb reads the Linux audit logs (auditd's /var/log/audit/audit.log and its \
            rotated audit.log.N) and keeps every signal-sending syscall it finds (kill, tkill, \
            tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal) in an SQLite \
            database, so the evidence outlives auditd's log rotation.

            The kernel logs these syscalls only when audit rules ask for them: \
            `killdb rules install` loads killdb's rules, `killdb rules print` shows them, \
            and `auditctl -l` lists what is loaded.

            The database is /var/lib/killdb/killdb.sqlite unless --db or KILLDB_DB says \
            otherwise. Its `signals` view is the public SQL interface.

            Exit codes: 0 success; 1 nothing found; 2 usage or database error (a \
            database this user may not read included); 3 a log could not be read, or there \
            was none to read (auditd's /var/log/audit holds no audit.log yet, named or by \
            default); 4 the database is damaged (SQLite reports it corrupt); 5 the tracer \
            cannot run here (`killdb trace`: no BPF, BTF or privilege); 75 another ingest \
            holds the database (retry later).
            """,
        version: Ingest.version,
        subcommands: [IngestCommand.self, WhoCommand.self, ReportCommand.self, SQLCommand.self, RulesCommand.self, DoctorCommand.self, PluginCommand.self, TraceCommand.self, MergeCommand.self]
    )

    static func main() {
        captureTerminal()
        var command: any ParsableCommand
        do {
            let arguments = TimeExpression.joiningSplitTimes(Array(CommandLine.arguments.dropFirst()),
                                                             timeOptions: timeOptions)
            command = try parseAsRoot(arguments)
        } catch {
            // Help, version and usage errors are the argument parser's to print.
            if exitCode(for: error) == .success { exit(withError: error) }
            FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
            Foundation.exit(Exit.usageOrDatabase)
        }
        do {
            try command.run()
        } catch let code as ExitCode {
            Foundation.exit(code.rawValue)
        } catch {
            if documentedExitCode(of: error) != nil { fail(error) }
            // The argument parser's own: help and version (its exit code 0; `killdb help who`
            // is run as a command that throws its text) it prints; a usage error found while
            // running (its EX_USAGE, also a command's ValidationError) is shown with the
            // subcommand's usage, as the parser shows the ones it finds, and exits 2.
            switch exitCode(for: error) {
            case .success: exit(withError: error)
            case .validationFailure:
                let sub = type(of: command)
                let name = ([Killdb.configuration.commandName] + (sub == Killdb.self ? [] : [sub.configuration.commandName]))
                    .compactMap { $0 }.joined(separator: " ")
                FileHandle.standardError.write(Data("""
                    Error: \(message(for: error))
                    \(usageString(for: sub))
                      See '\(name) --help' for more information.

                    """.utf8))
                Foundation.exit(Exit.usageOrDatabase)
            default: fail(error)
            }
        }
    }
}

/// The documented exit code of each of killdb's public error types; nil for another's.
func documentedExitCode(of error: any Error) -> Int32? {
    switch error {
    case is AuditLogError: return Exit.logsUnreadable
    case let e as IngestError:
        switch e {
        case .locked: return Exit.busy
        case .lockFile: return Exit.usageOrDatabase
        }
    case let e as StoreError:
        switch e {
        case .busy: return Exit.busy
        case .corrupt: return Exit.corrupt
        case .cannotCreateDirectory, .cannotOpen, .permissionDenied, .unsafeLocation, .notFound, .newerSchema, .olderSchema, .foreign, .sqlite:
            return Exit.usageOrDatabase
        }
    // The plugin's lines stay in auditd's queue, but the database took none.
    case is LiveIngestError: return Exit.usageOrDatabase
    case is MergeError: return Exit.usageOrDatabase
    case let e as TracerError:
        switch e {
        case .unavailable, .libbpf, .audit: return Exit.tracerUnavailable
        case .badSignals: return Exit.usageOrDatabase
        }
    case is QueryError, is TimeExpressionError, is AuditRulesError: return Exit.usageOrDatabase
    default:
        // A type not listed here that the library sorts (a new module's error): its sort,
        // exhaustively, so a new kind cannot go unmapped. Unsorted (.usage) is not killdb's.
        switch Failure.kind(of: error) {
        case .logs: return Exit.logsUnreadable
        case .busy: return Exit.busy
        case .database: return Exit.usageOrDatabase
        case .corrupt: return Exit.corrupt
        case .tracerUnavailable: return Exit.tracerUnavailable
        case .usage: return nil
        }
    }
}

/// Prints `error` for the operator and exits with the documented code (2 for an error
/// of no killdb module).
func fail(_ error: any Error) -> Never {
    // A time the user typed is already quoted and escaped in its message: once is enough.
    let message = (error as? TimeExpressionError)?.description ?? SafeText.line(String(describing: error))
    FileHandle.standardError.write(Data("killdb: \(message)\n".utf8))
    Foundation.exit(documentedExitCode(of: error) ?? Exit.usageOrDatabase)
}

/// The database path: --db, else KILLDB_DB, else the default.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The SQLite database.", discussion: "Default: $KILLDB_DB, else /var/lib/killdb/killdb.sqlite.",
        valueName: "path"))
    var db: String?

    var path: String {
        if let db { return db }
        if let env = ProcessInfo.processInfo.environment["KILLDB_DB"], !env.isEmpty { return env }
        return defaultDatabasePath
    }
}

/// Opens the database for a query, printing on stderr the note of a database that had to
/// be opened immutable (what its answers cannot include).
func openForReading(_ path: String) throws -> SignalStore {
    let store = try SignalStore.openReadOnly(path: path, upgrading: true)
    if let note = store.note { FileHandle.standardError.write(Data("killdb: note: \(SafeText.line(note))\n".utf8)) }
    return store
}
