import ArgumentParser
import Foundation
import KillDB
import Output
import Queries
import Store

struct SQLCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sql",
        abstract: "Run a read-only SQL query against the database.",
        discussion: """
            The connection is read-only: SQLite itself refuses writes. The public \
            interface is the `signals` view (one row per event and target); `coverage` and \
            `lost_events` tell what the logs held. Columns are described in the README.

            Text is printed escaped (control characters as \\e, \\n, \\xNN): process names and \
            command lines are chosen by whoever ran the process. For exact bytes, select \
            hex(CAST(column AS BLOB)).

            Examples:
              killdb sql "SELECT event_time, sender_comm, target_pid, target_comm FROM signals WHERE signal = 9 ORDER BY event_time DESC LIMIT 20"
              killdb sql --format csv "SELECT sender_exe, COUNT(*) AS kills FROM signals WHERE signal_name = 'SIGKILL' GROUP BY 1 ORDER BY 2 DESC"
              killdb sql "SELECT * FROM lost_events"
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("The SQL query.", valueName: "query"))
    var query: String

    @Option(help: "Output: table, json or csv.")
    var format: OutputFormat = .table

    func run() throws {
        let store = try SignalStore.openReadOnly(path: database.path, upgrading: true)
        let result = try AdHocSQL.run(query, in: store)
        let rows = result.rows.map { $0.map(Cell.init) }
        switch format {
        case .table, .text: print(Table.render(columns: result.columns, rows: rows, width: Terminal.width()), terminator: "")
        case .json: print(JSON.render(columns: result.columns, rows: rows))
        case .csv: print(CSV.render(columns: result.columns, rows: rows), terminator: "")
        }
        if result.rows.isEmpty { throw ExitCode(Exit.nothingFound) }
    }
}

extension Cell {
    init(_ v: QueryResult.Value) {
        switch v {
        case .null: self = .null
        case .integer(let i): self = .integer(i)
        case .real(let d): self = .real(d)
        case .text(let s): self = .text(Array(s.utf8))
        case .blob(let b): self = .blob(b)
        }
    }
}
