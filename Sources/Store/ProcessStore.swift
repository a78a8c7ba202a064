import AuditDecoding
import AuditLog
import Foundation
import GRDB
import ProcessContext

extension StoreTransaction {
    /// Stores what was read of an event's processes: each process once (node, boot, pid,
    /// start time), its parent linked, and the event's sender, its parent or targets
    /// pointing at them. An event not stored (yet) takes nothing. Idempotent.
    @discardableResult
    public func store(_ processes: EventProcesses, for event: EventID) throws -> Bool {
        let nodeID = try store.intern(Array(event.node.utf8), db)
        guard let eventRow = try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM events WHERE node_id = ? AND sec = ? AND msec = ? AND serial = ?"),
            arguments: [nodeID, event.seconds, event.milliseconds, Int64(event.serial)]) else { return false }
        var rows: [Int64] = []
        for p in processes.chain { rows.append(try store(p, node: nodeID)) }
        for (child, parent) in zip(rows, rows.dropFirst()) {
            try db.cachedStatement(sql: "UPDATE processes SET parent_id = ? WHERE id = ? AND parent_id IS NULL")
                .execute(arguments: [parent, child])
        }
        if let first = rows.first, let p = processes.chain.first {
            try link(eventRow, processes.senderRead ? "sender" : "parent", p.pid, first)
        }
        for t in processes.targets { try link(eventRow, "target", t.pid, try store(t, node: nodeID)) }
        return true
    }

    private func link(_ event: Int64, _ role: String, _ pid: Int64, _ process: Int64) throws {
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO event_processes (event_id, role, pid, process_id) VALUES (?, ?, ?, ?)")
            .execute(arguments: [event, role, pid, process])
    }

    /// The row of one process, inserted the first time it is seen.
    func store(_ p: ProcessRecord, node: Int64) throws -> Int64 {
        let key: [(any DatabaseValueConvertible)?] = [node, p.bootID, p.pid, p.startTicks ?? -1]
        if let id = try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT id FROM processes WHERE node_id = ? AND boot_id = ? AND pid = ? AND start_ticks = ?
            """), arguments: StatementArguments(key)) {
            return id
        }
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        let argv = p.argv.isEmpty ? nil : Array(p.argv.joined(separator: [0]))
        let cmdline = p.argv.isEmpty ? nil : Array(p.argv.joined(separator: [0x20]))
        let place = p.place
        let values: [(any DatabaseValueConvertible)?] = key + [
            p.startTime, p.ppid, try id(p.comm), try id(p.exe), try id(argv), try id(cmdline), try id(place?.cgroup),
            try id(place?.unit), try id(place?.slice), place?.container?.id, place?.container?.runtime.rawValue,
            place?.pod?.uid, place?.pod?.qos.rawValue, try id(place?.pod?.namespace), try id(place?.pod?.name),
            try id(place?.pod?.containerName), p.source.rawValue, p.readAt,
        ]
        try db.cachedStatement(sql: """
            INSERT INTO processes (node_id, boot_id, pid, start_ticks, start_time, ppid, comm_id, exe_id, argv_id,
              cmdline_id, cgroup_id, unit_id, slice_id, container, container_runtime, pod_uid, pod_qos,
              pod_namespace_id, pod_name_id, pod_container_id, source, read_at)
            VALUES (\(Array(repeating: "?", count: 22).joined(separator: ",")))
            """).execute(arguments: StatementArguments(values))
        return db.lastInsertedRowID
    }
}

extension StoreTransaction {
    /// Successful execve events, each once (node, time, serial): what each process ran and
    /// its parent, for naming a sender's parents from the audit logs alone.
    func store(_ execs: [ProcessExec]) throws {
        func id(_ b: [UInt8]?) throws -> Int64? { try b.map { try store.intern($0, db) } }
        var node: (name: String, id: Int64)?
        var start = execs.startIndex
        while start < execs.endIndex {
            // Many rows a statement, bound through the C API: a busy host's log has one per
            // execve, and a statement's own run was most of the cost of each.
            let rows = min(Self.execRowsPerInsert, execs.endIndex - start)
            var insert = try BoundStatement(db, "INSERT OR IGNORE INTO process_execs (node_id, sec, msec, serial, pid, ppid, comm_id, exe_id, argv_id) VALUES "
                                            + Array(repeating: "(?,?,?,?,?,?,?,?,?)", count: rows).joined(separator: ","))
            insert.begin()
            for e in execs[start..<(start + rows)] {
                if node?.name != e.id.node { node = (e.id.node, try store.intern(name: e.id.node, db)) }
                insert.bind(node!.id)
                insert.bind(e.id.seconds)
                insert.bind(e.id.milliseconds)
                insert.bind(e.id.serial)
                insert.bind(e.pid)
                insert.bind(e.ppid)
                insert.bind(try id(e.comm))
                insert.bind(try id(e.exe))
                insert.bind(try id(e.arguments))
            }
            try insert.run(db)
            start += rows
        }
    }

    /// Rows per INSERT of `store(_: [ProcessExec])`: a batch's remainder takes a statement
    /// of its own length, so at most this many statements are cached.
    static let execRowsPerInsert = 32
}
