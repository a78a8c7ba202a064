import Foundation
import GRDB
import ProcessContext

/// The processes behind a signal row, as the plugin (or tracer) stored them: the sender
/// and its parents, and the targets that still lived when read.
public struct EventContext: Sendable, Equatable {
    /// The sender first (from the event's own record when /proc no longer had it).
    public var chain: SenderChain
    /// False when the sender had exited before it could be read: `chain`'s first entry is
    /// then what the audit record says of it, the rest was read from /proc.
    public var senderRead: Bool
    public var target: ProcessRecord?

    public init(chain: SenderChain, senderRead: Bool, target: ProcessRecord? = nil) {
        self.chain = chain
        self.senderRead = senderRead
        self.target = target
    }

    /// The sender's place: its own, else its parent's (a `kill` run by a unit's script is
    /// in that unit, as its parent is; the tracer's v2 path of a host whose units are in
    /// the v1 name=systemd hierarchy names nothing, its parent's /proc reading does).
    public var senderPlace: ProcessPlace? {
        guard let first = chain.processes.first else { return nil }
        if let own = first.place, !own.isEmpty { return own }
        if senderPlaceIsParents { return chain.processes[1].place }
        return first.place
    }

    /// True when `senderPlace` is its parent's: its own names nothing (or was not read).
    public var senderPlaceIsParents: Bool {
        let p = chain.processes
        guard p.count > 1, p[0].place.map(\.isEmpty) ?? true else { return false }
        return p[1].place.map { !$0.isEmpty } ?? false
    }
}

public enum ProcessChainQuery {
    /// The context of `row`, or nil when nothing was read of its processes.
    public static func context(_ db: Database, for row: SignalRow) throws -> EventContext? {
        guard let eventRow = try eventRowID(db, row) else { return nil }
        let links = try Row.fetchAll(db.cachedStatement(sql: "SELECT role, pid, process_id FROM event_processes WHERE event_id = ?"),
                                     arguments: [eventRow])
        guard !links.isEmpty else { return try fromExecs(db, for: row) }
        var chain: [ProcessRecord] = []
        var senderRead = false
        if let s = links.first(where: { ["sender", "parent"].contains($0["role"] as String) }) {
            senderRead = (s["role"] as String) == "sender"
            if !senderRead { chain.append(fromRecord(row)) }
            chain += try ancestry(db, from: s["process_id"], limit: 64 - chain.count)
        }
        var target: ProcessRecord?
        if let t = links.first(where: { ($0["role"] as String) == "target" && ($0["pid"] as Int64?) == row.targetPid }),
           let p = try process(db, t["process_id"]) {
            target = p.record
        }
        if chain.isEmpty && target == nil { return nil }
        return EventContext(chain: SenderChain(chain), senderRead: senderRead, target: target)
    }

    /// A stored process and its parents by their links, newest first, at most `limit` of
    /// them; a link that loops back stops the walk.
    static func ancestry(_ db: Database, from first: Int64?, limit: Int) throws -> [ProcessRecord] {
        var out: [ProcessRecord] = []
        var next = first
        var seen = Set<Int64>()
        while let id = next, out.count < limit, seen.insert(id).inserted, let p = try process(db, id) {
            out.append(p.record)
            next = p.parent
        }
        return out
    }

    /// The processes of a tracer's record (`record_rowid`): the sender and its parents as
    /// the kernel named them at the event, and the target; nil when none were stored.
    public static func context(_ db: Database, tracedRecord record: Int64) throws -> EventContext? {
        guard try db.tableExists("traced_record_processes") else { return nil }
        let links = try Row.fetchAll(db.cachedStatement(sql: "SELECT role, process_id FROM traced_record_processes WHERE record_id = ?"),
                                     arguments: [record])
        guard !links.isEmpty else { return nil }
        var chain: [ProcessRecord] = []
        if let s = links.first(where: { ($0["role"] as String) == "sender" }) {
            chain += try ancestry(db, from: s["process_id"], limit: 64 - chain.count)
        }
        var target: ProcessRecord?
        if let t = links.first(where: { ($0["role"] as String) == "target" }), let p = try process(db, t["process_id"]) {
            target = p.record
        }
        if chain.isEmpty && target == nil { return nil }
        return EventContext(chain: SenderChain(chain), senderRead: !chain.isEmpty, target: target)
    }

    /// From the audit logs alone: the sender as its record names it, then its parents as
    /// their own execve records do (the newest execve of each parent pid before the kill, by
    /// time and serial: a parent's `exec` later in the kill's second ran after it). nil when
    /// the logs hold none for its parent.
    static func fromExecs(_ db: Database, for row: SignalRow) throws -> EventContext? {
        guard let ppid = row.senderPpid, ppid > 1, try db.tableExists("process_execs"),
              let node = try Int64.fetchOne(db, sql: "SELECT id FROM strings WHERE value = ?", arguments: [Data(row.node ?? [])])
        else { return nil }
        let statement = try db.cachedStatement(sql: """
            SELECT x.pid, x.ppid, x.sec, x.msec, comm.value AS comm, exe.value AS exe, argv.value AS argv
            FROM process_execs x
            LEFT JOIN strings comm ON comm.id = x.comm_id
            LEFT JOIN strings exe ON exe.id = x.exe_id
            LEFT JOIN strings argv ON argv.id = x.argv_id
            WHERE x.node_id = ? AND x.pid = ? AND x.sec <= ? AND (x.sec, x.msec, x.serial) < (?, ?, ?)
            ORDER BY x.sec DESC, x.msec DESC, x.serial DESC LIMIT 1
            """)
        let stamp = row.eventID.split(whereSeparator: { $0 == "." || $0 == ":" }).compactMap { Int64($0) }
        guard stamp.count == 3 else { return nil }
        var chain = [fromRecord(row)]
        var next: Int64? = ppid
        var seen: Set<Int64> = [row.senderPid ?? 0]
        while let pid = next, pid > 0, chain.count < 32, seen.insert(pid).inserted,
              let r = try Row.fetchOne(statement, arguments: [node, pid, stamp[0], stamp[0], stamp[1], stamp[2]]) {
            func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
            let sec: Int64 = r["sec"], msec: Int64 = r["msec"]
            chain.append(ProcessRecord(pid: pid, ppid: r["ppid"], comm: bytes("comm"), exe: bytes("exe"),
                                       argv: bytes("argv").map { $0.split(separator: 0, omittingEmptySubsequences: false).map(Array.init) } ?? [],
                                       source: .auditExecve, readAt: Double(sec) + Double(msec) / 1000))
            next = r["ppid"]
        }
        guard chain.count > 1 else { return nil }
        return EventContext(chain: SenderChain(chain), senderRead: false)
    }

    /// The sender as its own SYSCALL and PROCTITLE records name it.
    static func fromRecord(_ r: SignalRow) -> ProcessRecord {
        var p = ProcessRecord(pid: r.senderPid ?? 0, ppid: r.senderPpid, comm: r.senderComm, exe: r.senderExe,
                              source: .auditExecve, readAt: r.eventTime)
        if let cmd = r.senderCmdline { p.argv = cmd.split(separator: 0x20).map(Array.init) }
        return p
    }

    static func eventRowID(_ db: Database, _ r: SignalRow) throws -> Int64? {
        // "SEC.MSEC:SERIAL", as EventID prints it.
        let parts = r.eventID.split(whereSeparator: { $0 == "." || $0 == ":" })
        guard parts.count == 3, let sec = Int64(parts[0]), let msec = Int64(parts[1]), let serial = Int64(parts[2]) else { return nil }
        return try Int64.fetchOne(db.cachedStatement(sql: """
            SELECT e.id FROM events e JOIN strings n ON n.id = e.node_id
            WHERE e.sec = ? AND e.msec = ? AND e.serial = ? AND n.value = ?
            """), arguments: [sec, msec, serial, Data(r.node ?? [])])
    }

    static func process(_ db: Database, _ id: Int64) throws -> (record: ProcessRecord, parent: Int64?)? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT p.pid, p.start_ticks, p.start_time, p.ppid, p.parent_id, p.boot_id, p.source, p.read_at,
                   p.container, p.container_runtime, p.pod_uid, p.pod_qos,
                   comm.value AS comm, exe.value AS exe, argv.value AS argv, cg.value AS cgroup,
                   unit.value AS unit, slice.value AS slice, pns.value AS pod_namespace, pn.value AS pod_name,
                   pc.value AS pod_container
            FROM processes p
            LEFT JOIN strings comm ON comm.id = p.comm_id
            LEFT JOIN strings exe ON exe.id = p.exe_id
            LEFT JOIN strings argv ON argv.id = p.argv_id
            LEFT JOIN strings cg ON cg.id = p.cgroup_id
            LEFT JOIN strings unit ON unit.id = p.unit_id
            LEFT JOIN strings slice ON slice.id = p.slice_id
            LEFT JOIN strings pns ON pns.id = p.pod_namespace_id
            LEFT JOIN strings pn ON pn.id = p.pod_name_id
            LEFT JOIN strings pc ON pc.id = p.pod_container_id
            WHERE p.id = ?
            """), arguments: [id]) else { return nil }
        func bytes(_ column: String) -> [UInt8]? { (row[column] as Data?).map { [UInt8]($0) } }
        let ticks: Int64 = row["start_ticks"]
        var p = ProcessRecord(pid: row["pid"], startTicks: ticks < 0 ? nil : ticks, startTime: row["start_time"], ppid: row["ppid"],
                              comm: bytes("comm"), exe: bytes("exe"),
                              argv: bytes("argv").map { $0.split(separator: 0, omittingEmptySubsequences: false).map(Array.init) } ?? [],
                              cgroup: bytes("cgroup"), source: ProcessSource(rawValue: row["source"]) ?? .proc, readAt: row["read_at"])
        p.bootID = row["boot_id"]
        if let cg = p.cgroup {
            var place = ProcessPlace(cgroup: cg, unit: bytes("unit"), slice: bytes("slice"))
            if let id = row["container"] as String?, let rt = ContainerRuntime(rawValue: row["container_runtime"] ?? "") {
                place.container = Container(id: id, runtime: rt)
            }
            if let uid = row["pod_uid"] as String?, let qos = PodQoS(rawValue: row["pod_qos"] ?? "") {
                place.pod = Pod(uid: uid, qos: qos, namespace: bytes("pod_namespace"), name: bytes("pod_name"),
                                containerName: bytes("pod_container"))
            }
            p.place = place
        }
        return (p, row["parent_id"])
    }
}
