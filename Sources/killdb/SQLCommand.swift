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
            command lines are chosen by whoever ran the process. --format csv to a pipe or \
            a file gives the stored values instead (RFC 4180 quoting; a value a spreadsheet \
            would run as a formula gets a ' in front). For exact bytes, select \
            hex(CAST(column AS BLOB)).

            On a terminal, tables fit its width: times, ids, pids and signals are never cut, \
            other columns are cut at their end; when the rows cannot fit, each row is printed \
            one field per line (--format line asks for that, --wide for the whole table).

            Examples:
              killdb sql "SELECT event_time_utc, sender_comm, target_pid, target_comm
                FROM signals WHERE signal = 9 ORDER BY event_time DESC LIMIT 20"
              killdb sql --format csv "SELECT sender_exe, COUNT(*) AS kills FROM signals
                WHERE signal_name = 'SIGKILL' GROUP BY 1 ORDER BY 2 DESC"
              killdb sql "SELECT * FROM lost_events"
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("The SQL query.", valueName: "query"))
    var query: String

    @Option(help: "Output: table, line (one field per line, as sqlite3 -line), json or csv. On a terminal a table whose rows do not fit is printed as lines.")
    var format: OutputFormat = .table

    @Flag(help: "Do not cut or rearrange the table to fit the terminal's width.") var wide = false

    /// Rows are printed as they come, in chunks: a table's column widths are taken from
    /// the first `chunk` rows, so memory stays bounded whatever the result's size.
    static let chunk = 1000

    func run() throws {
        let store = try openForReading(database.path)
        var columns: [String] = []
        var pending: [[Cell]] = []
        var printed = 0
        let width = wide ? nil : Terminal.width()
        // Decided on the first chunk: a table, or one field per line when its rows do not fit.
        var lines = format == .line
        let out = FileHandle.standardOutput
        func emit(_ text: String) { out.write(Data(text.utf8)) }
        func flush(final: Bool) {
            guard !pending.isEmpty || final else { return }
            if printed == 0, format == .table || format == .text, let width,
               !Table.fits(columns: columns, rows: pending, width: width, keep: Table.neverCut(columns)) {
                lines = true
            }
            switch format {
            case _ where lines:
                emit(Lines.render(columns: columns, rows: pending, first: printed == 0))
            case .table, .text, .line:
                var text = Table.render(columns: columns, rows: pending, width: width, keep: Table.neverCut(columns))
                // Later chunks: rows only, under the first chunk's header.
                if printed > 0 { text = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n") }
                emit(text)
            case .json:
                var text = ""
                for (n, row) in pending.enumerated() {
                    text += printed + n == 0 ? "[\n" : ",\n"
                    text += JSON.object(columns.enumerated().map { ($0.element, JSON.value(row[$0.offset])) })
                }
                if final { text += printed + pending.count == 0 ? "[]\n" : "\n]\n" }
                emit(text)
            case .csv:
                // The stored values for a program; escaped only for a person at a terminal.
                var text = CSV.render(columns: columns, rows: pending, escaped: Terminal.isTerminal)
                if printed > 0 { text.removeFirst(CSV.render(columns: columns, rows: [], escaped: Terminal.isTerminal).count) }
                emit(text)
            }
            printed += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        try AdHocSQL.stream(query, path: store.path, immutable: store.immutable, columns: { columns = $0 }) { row in
            pending.append(row.map(Cell.init))
            if pending.count >= Self.chunk { flush(final: false) }
            return true
        }
        flush(final: true)
        if printed == 0 { throw ExitCode(Exit.nothingFound) }
    }
}

extension Cell {
    init(_ v: QueryResult.Value) {
        switch v {
        case .null: self = .null
        case .integer(let i): self = .integer(i)
        case .real(let d): self = .real(d)
        case .text(let s): self = .text(s)
        case .blob(let b): self = .blob(b)
        }
    }
}
