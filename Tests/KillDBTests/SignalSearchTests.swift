import Foundation
import GRDB
import KillDB
@testable import Queries
import Store
import Testing

/// `who` and `report` find their rows through indexes (SignalSearch), not by asking the
/// `signals` view. The view is the definition: on random logs full of the awkward cases
/// (several targets per event, equal times, serial ties across nodes, failures, ESRCH,
/// probes, senders that died inside kill(), glob characters in names), every answer must be
/// exactly what the plain query over the view gives.
@Suite("index search answers exactly as the signals view")
struct SignalSearchTests {
    static let comms = ["java", "nginx", "postgres", "py*thon", "[x]", "nginx-worker"]
    static let patterns = ["java", "nginx", "n*", "*a*", "py*", "[jn]*", "nomatch", "?ava", "[[]x]", "*"]

    /// A log of `count` signal events with the seed's random choices.
    static func log(seed: UInt64, count: Int) -> String {
        var rng = SplitMix(seed: seed)
        var out = ""
        var sec = 1_800_000_000, msec = 0, serial = 1000
        for _ in 0..<count {
            // Often the same millisecond again: ties must be ordered by serial, then event.
            if Int.random(in: 0..<4, using: &rng) != 0 {
                sec += Int.random(in: 0...40, using: &rng)
                msec = Int.random(in: 0...999, using: &rng)
            }
            serial += Int.random(in: 0..<5, using: &rng) == 0 ? 0 : 1  // 0: same serial, another node
            let node = [nil, "alpha", "beta"][Int.random(in: 0..<3, using: &rng)]
            let stamp = "\(sec).\(String(format: "%03d", msec)):\(serial)"
            let prefix = node.map { "node=\($0) " } ?? ""
            let signal = [0, 9, 9, 9, 15, 2, 37][Int.random(in: 0..<7, using: &rng)]
            let targets = (0..<Int.random(in: 1...3, using: &rng)).map { _ in
                (pid: [4242, 4243, 5000, 5001, 5002][Int.random(in: 0..<5, using: &rng)],
                 comm: comms[Int.random(in: 0..<comms.count, using: &rng)])
            }
            let sender = [(100, "bash", "/usr/bin/bash"), (101, "kill", "/usr/bin/kill"), (1, "systemd", "/usr/lib/systemd/systemd")][
                Int.random(in: 0..<3, using: &rng)]
            let outcome = Int.random(in: 0..<10, using: &rng)
            let result: String
            var reached = Array(Set(targets.map(\.pid))).sorted().map { p in (p, targets.first { $0.pid == p }!.comm) }
            switch outcome {
            case 0: result = "success=no exit=-1"  // EPERM: the target is named
            case 1: result = "success=no exit=-3"; reached = []  // ESRCH: nobody
            case 2: result = ""  // the sender died inside kill(): no outcome logged
            default: result = "success=yes exit=0"
            }
            let a0 = String(UInt64(bitPattern: Int64(reached.count > 1 ? -reached[0].0 : targets[0].pid)), radix: 16)
            out += "\(prefix)type=SYSCALL msg=audit(\(stamp)): arch=c000003e syscall=62 \(result) a0=\(a0) a1=\(String(signal, radix: 16)) a2=0 a3=0 items=0 ppid=1 pid=\(sender.0) auid=1000 uid=\(sender.0 == 1 ? 0 : 1000) gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=\"\(sender.1)\" exe=\"\(sender.2)\" key=\"killdbtest\"\n"
            for (pid, comm) in reached {
                out += "\(prefix)type=OBJ_PID msg=audit(\(stamp)): opid=\(pid) oauid=-1 ouid=998 oses=-1 ocomm=\"\(comm)\"\n"
            }
            out += "\(prefix)type=EOE msg=audit(\(stamp)): \n"
        }
        return out
    }

    static func randomQuery(_ rng: inout SplitMix, span: ClosedRange<Double>) -> SignalQuery {
        var q = SignalQuery()
        func maybe(_ n: Int = 2) -> Bool { Int.random(in: 0..<n, using: &rng) == 0 }
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: break
        case 1: q.targetPid = [4242, 5000, 5002, 7][Int.random(in: 0..<4, using: &rng)]
        case 2: q.targetComm = patterns[Int.random(in: 0..<patterns.count, using: &rng)]
        default:
            q.targetPid = [4242, 5001][Int.random(in: 0..<2, using: &rng)]
            q.targetComm = patterns[Int.random(in: 0..<patterns.count, using: &rng)]
        }
        q.signals = [.only([9]), .only([9, 15]), .all, .only([0]), .only([0, 9]), .only([37, 2])][Int.random(in: 0..<6, using: &rng)]
        func instant() -> Double { Double.random(in: span, using: &rng).rounded(.down) + [0, 0.5, 0.999][Int.random(in: 0..<3, using: &rng)] }
        if maybe() { q.before = instant() }
        if maybe(3) { q.after = min(instant(), q.before ?? .infinity) }
        q.includeFailed = maybe()
        q.includeProbes = maybe(3) || q.signals == .only([0])
        q.limit = maybe(5) ? nil : Int.random(in: 1...25, using: &rng)
        if maybe(4) { q.node = ["alpha", "beta", "gamma"][Int.random(in: 0..<3, using: &rng)] }
        if maybe(5) { q.senderPid = [100, 1][Int.random(in: 0..<2, using: &rng)] }
        if maybe(6) { q.senderExe = ["/usr/bin/*", "/usr/bin/kill", "*systemd"][Int.random(in: 0..<3, using: &rng)] }
        if maybe(8) { q.uid = 0 }
        return q
    }

    /// The random log of `seed`, ingested; and the span of its event times.
    static func database(seed: UInt64, in dir: URL) throws -> (SignalStore, ClosedRange<Double>) {
        let log = dir.appendingPathComponent("audit.log")
        try TestLogs.write(Self.log(seed: seed, count: 700), to: log)
        let db = dir.appendingPathComponent("k.sqlite")
        _ = try TestLogs.ingest([log], db: db)
        let store = try SignalStore.openReadOnly(path: db.path)
        let span = try store.read { db in
            try Row.fetchOne(db, sql: "SELECT MIN(event_time) AS a, MAX(event_time) AS b FROM signals")!
        }
        return (store, (span["a"] as Double)...(span["b"] as Double))
    }

    static func key(_ r: SignalRow) -> String { "\(r.node.map { String(decoding: $0, as: UTF8.self) } ?? "-")/\(r.eventID)/\(r.targetPid.map(String.init) ?? "-")" }

    @Test("who: rows, order, limits and hidden counts", arguments: [UInt64(1), 2, 3])
    func who(seed: UInt64) throws {
        try TestLogs.withScratch { dir in
            let (store, span) = try Self.database(seed: seed, in: dir)
            var rng = SplitMix(seed: seed &* 7919)
            for i in 0..<250 {
                let q = Self.randomQuery(&rng, span: span)
                let answer = try Who.ask(q, in: store)
                let expected = try store.read { try ViewReference.who(q, $0) }
                #expect(answer.rows.map(Self.key) == expected.rows.map(Self.key), "query \(i): \(q)")
                #expect(answer.rows == expected.rows, "query \(i): \(q)")
                #expect(answer.hiddenFailed == expected.failed, "query \(i): \(q)")
                #expect(answer.hiddenProbes == expected.probes, "query \(i): \(q)")
                #expect(answer.truncated == expected.truncated, "query \(i): \(q)")
                // A pattern matching many names walks events by time instead: the same answer.
                if q.targetComm != nil && q.targetPid == nil {
                    let broad = try store.read { db -> ([SignalRow], Int) in
                        let search = try SignalSearch(q, db, maxCommRanges: 1)
                        let signals = q.signals.searched(probes: q.includeProbes)
                        return (try search.rows(.init(signals: signals, failed: q.includeFailed ? [0, 1] : [0]), limit: q.limit),
                                q.includeFailed ? 0 : try search.count(.init(signals: signals, failed: [1])))
                    }
                    #expect(broad.0.map(Self.key) == Array(expected.rows.map(Self.key).prefix(q.limit ?? Int.max)), "query \(i): \(q)")
                    #expect(broad.1 == expected.failed, "query \(i): \(q)")
                }
            }
        }
    }

    @Test("report: kills, failures, totals, each sender's activity and repeated kills", arguments: [UInt64(4), 5])
    func report(seed: UInt64) throws {
        try TestLogs.withScratch { dir in
            let (store, span) = try Self.database(seed: seed, in: dir)
            var rng = SplitMix(seed: seed &* 104729)
            for i in 0..<120 {
                let random = Self.randomQuery(&rng, span: span)
                var q = IncidentQuery(before: random.before ?? span.upperBound,
                                      window: [600.0, 3600, 86400, 1e7][Int.random(in: 0..<4, using: &rng)])
                q.targetPid = random.targetPid
                q.targetComm = random.targetPid == nil ? random.targetComm : nil
                q.signals = random.signals
                q.node = random.node
                q.limit = Int.random(in: 1...30, using: &rng)
                let incident = try IncidentReportQuery.run(q, in: store)
                try store.read { db in
                    let (kills, killsTotal) = try ViewReference.reportRows(q, failed: false, db)
                    let (failed, failedTotal) = try ViewReference.reportRows(q, failed: true, db)
                    #expect(incident.kills.map(Self.key) == kills.map(Self.key), "query \(i): \(q)")
                    #expect(incident.kills == kills, "query \(i): \(q)")
                    #expect(incident.signalKillsTotal == killsTotal, "query \(i): \(q)")
                    #expect(incident.failed.map(Self.key) == failed.map(Self.key), "query \(i): \(q)")
                    #expect(incident.failedTotal == failedTotal, "query \(i): \(q)")
                    #expect(incident.senders == (try ViewReference.senderActivity(db, q, kills: incident.kills)), "query \(i): \(q)")
                    let patterns = try ViewReference.repeatedKills(db, q, kills: incident.kills)
                    #expect(incident.patterns.map { "\($0)" }.sorted() == patterns.map { "\($0)" }.sorted(), "query \(i): \(q)")
                }
            }
        }
    }

    @Test("time bounds are exact to the millisecond the view compares")
    func millisecondBounds() {
        for t in [1_800_000_000.0, 1_800_000_000.5, 1_800_000_000.999, 1_800_000_000.0005, 1_800_000_000.123, 0.001, 12.3456] {
            let last = SignalSearch.lastMillisecond(atOrBefore: t)
            #expect(SignalSearch.eventTime(ms: last) <= t && SignalSearch.eventTime(ms: last + 1) > t, "\(t)")
            let first = SignalSearch.firstMillisecond(atOrAfter: t)
            #expect(SignalSearch.eventTime(ms: first) >= t && SignalSearch.eventTime(ms: first - 1) < t, "\(t)")
        }
    }

    @Test("a database of the first schema gains the copies and indexes, and answers the same")
    func upgradedDatabase() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.log(seed: 9, count: 300), to: log)
            let fresh = dir.appendingPathComponent("fresh.sqlite")
            _ = try TestLogs.ingest([log], db: fresh)
            // The same database as migration 002 left it: no copies in targets.
            let old = dir.appendingPathComponent("old.sqlite")
            try FileManager.default.copyItem(at: fresh, to: old)
            try DatabaseQueue(path: old.path).write { db in
                try db.execute(sql: """
                    INSERT OR IGNORE INTO strings (value) SELECT sender_cmdline FROM events WHERE sender_cmdline IS NOT NULL;
                    UPDATE events SET sender_cmdline_id = (SELECT id FROM strings WHERE value = events.sender_cmdline)
                    WHERE sender_cmdline IS NOT NULL;
                    DROP VIEW signals; ALTER TABLE events DROP COLUMN sender_cmdline; CREATE VIEW signals AS SELECT 1;
                    DROP TRIGGER targets_copies;
                    DROP INDEX targets_pid; DROP INDEX targets_comm; DROP INDEX events_signal; DROP INDEX events_sender_pid;
                    ALTER TABLE events DROP COLUMN failed;
                    ALTER TABLE targets DROP COLUMN signal; ALTER TABLE targets DROP COLUMN failed; ALTER TABLE targets DROP COLUMN time_ms;
                    CREATE INDEX targets_pid ON targets (pid); CREATE INDEX targets_comm ON targets (comm_id);
                    CREATE INDEX events_sender_pid ON events (sender_pid);
                    DROP TABLE event_conflicts; ALTER TABLE ingest_runs DROP COLUMN conflicting_events;
                    DROP VIEW traced_signal_context; DROP TABLE traced_record_processes; DROP TABLE process_execs;
                    DROP VIEW traced_signals; DROP VIEW trace_coverage;
                    DROP TABLE traced_signal_records; DROP TABLE trace_losses; DROP TABLE trace_sessions;
                    DROP VIEW coverage; DROP TRIGGER ingest_runs_plugin_kind; DROP TRIGGER ingest_runs_status_insert;
                    DROP TRIGGER ingest_runs_status_update; ALTER TABLE ingest_runs DROP COLUMN kind;
                    DROP VIEW signal_context; DROP VIEW process_context; DROP TABLE event_processes; DROP TABLE processes;
                    DROP VIEW kernel_kills; DROP VIEW systemd_kills;
                    ALTER TABLE kernel_kill_events DROP COLUMN verified; ALTER TABLE systemd_actions DROP COLUMN verified;
                    CREATE VIEW kernel_kills AS SELECT 1; CREATE VIEW systemd_kills AS SELECT 1;
                    DROP INDEX events_tgid_arg;
                    DROP TABLE unverified_trace_messages; DROP TABLE trace_writers;
                    DELETE FROM grdb_migrations WHERE identifier >= '003';
                    """)
            }
            let upgraded = try SignalStore.openReadOnly(path: old.path, upgrading: true)
            let copies = "SELECT event_id, pid, signal, failed, time_ms FROM targets ORDER BY event_id, pid"
            let a = try upgraded.read { try Row.fetchAll($0, sql: copies) }
            let b = try SignalStore.openReadOnly(path: fresh.path).read { try Row.fetchAll($0, sql: copies) }
            #expect(a == b && !a.isEmpty)
            // The upgrade's write-ahead log was checkpointed: readers do not replay it.
            let wal = (try? FileManager.default.attributesOfItem(atPath: old.path + "-wal")[.size] as? Int) ?? 0
            #expect(wal == 0)

            // A plugin still running the previous binary writes targets as it knew them: the
            // copies are made for it, so its kills are found.
            try DatabaseQueue(path: old.path).write { db in
                try db.execute(sql: """
                    INSERT INTO targets (event_id, pid, uid, auid, ses, comm_id)
                    SELECT id, 31337, 0, 0, 0, (SELECT comm_id FROM targets LIMIT 1) FROM events
                    WHERE success = 1 AND signal = 9 ORDER BY id DESC LIMIT 1
                    """)
            }
            var q = SignalQuery()
            q.targetPid = 31337
            let answer = try Who.ask(q, in: try SignalStore.openReadOnly(path: old.path))
            #expect(answer.rows.map(\.targetPid) == [31337])
        }
    }
}

/// The questions as plain SQL over the `signals` view: slow at scale, obviously right.
enum ViewReference {
    static func whereClause(_ q: SignalQuery) -> (String, [any DatabaseValueConvertible]) {
        var terms: [String] = [], args: [any DatabaseValueConvertible] = []
        if let p = q.targetPid {
            terms.append("(target_pid = ? OR (target_pid IS NULL AND target_arg = ?))")
            args += [p, p]
        }
        if let g = q.targetComm { terms.append("target_comm GLOB ?"); args.append(g) }
        if let g = q.senderExe { terms.append("sender_exe GLOB ?"); args.append(g) }
        if let p = q.senderPid { terms.append("sender_pid = ?"); args.append(p) }
        if let g = q.senderComm { terms.append("sender_comm GLOB ?"); args.append(g) }
        if let n = q.node { terms.append("node IS ?"); args.append(n) }
        if let u = q.uid { terms.append("sender_uid = ?"); args.append(u) }
        if let u = q.auid { terms.append("sender_auid = ?"); args.append(u) }
        if case .only(let numbers) = q.signals {
            terms.append("signal IN (\(numbers.map(String.init).joined(separator: ",")))")
        }
        if let b = q.before { terms.append("event_time <= ?"); args.append(b) }
        if let a = q.after { terms.append("event_time >= ?"); args.append(a) }
        return (terms.isEmpty ? "1" : terms.joined(separator: " AND "), args)
    }

    static let order = "ORDER BY event_time DESC, serial DESC, event_rowid DESC, target_pid"

    static func who(_ q: SignalQuery, _ db: Database) throws -> (rows: [SignalRow], failed: Int, probes: Int, truncated: Bool) {
        let (clause, args) = whereClause(q)
        var shown = clause
        if !q.includeFailed { shown += " AND success IS NOT 0" }
        if !q.includeProbes { shown += " AND probe IS NOT 1" }
        var rows = try Row.fetchAll(db, sql: "SELECT \(SignalRow.selectList) FROM signals WHERE \(shown) \(order)",
                                    arguments: StatementArguments(args)).map(SignalRow.init)
        var truncated = false
        if let l = q.limit, rows.count > l { rows.removeLast(rows.count - l); truncated = true }
        let failed = q.includeFailed ? 0 : try Int.fetchOne(db, sql: """
            SELECT COUNT(*) FROM signals WHERE \(clause) AND success = 0 \(q.includeProbes ? "" : "AND probe IS NOT 1")
            """, arguments: StatementArguments(args))!
        let probes = q.includeProbes ? 0 : try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM signals WHERE \(clause) AND probe = 1",
                                                             arguments: StatementArguments(args))!
        return (rows, failed, probes, truncated)
    }

    static func reportRows(_ q: IncidentQuery, failed: Bool, _ db: Database) throws -> ([SignalRow], Int) {
        var (clause, args) = whereClause(q.base(signals: failed ? .all : q.signals, target: true))
        clause += failed ? " AND success = 0 AND probe IS NOT 1" : " AND success IS NOT 0"
        if !failed && !q.includeProbes { clause += " AND probe IS NOT 1" }
        let rows = try Row.fetchAll(db, sql: "SELECT \(SignalRow.selectList) FROM signals WHERE \(clause) \(order) LIMIT \(q.limit)",
                                    arguments: StatementArguments(args)).map(SignalRow.init)
        let total = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM signals WHERE \(clause)", arguments: StatementArguments(args))!
        return (IncidentReportQuery.oldestFirst(rows), total)
    }

    static func senderActivity(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.SenderActivity] {
        struct Key: Hashable { var node: [UInt8]?; var pid: Int64?; var exe: [UInt8]? }
        struct Group: Hashable {
            var signal: Int64?; var targetPid: Int64?; var targetComm: [UInt8]?; var targetArg: Int64?
            var success: Bool?; var errno: String?
        }
        var seen: Set<Key> = []
        var senders: [Incident.SenderActivity] = []
        let listed = Set(kills.map { "\($0.eventID)/\($0.targetPid.map(String.init) ?? "-")" })
        for kill in kills {
            let key = Key(node: kill.node, pid: kill.senderPid, exe: kill.senderExe)
            guard seen.insert(key).inserted else { continue }
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(SignalRow.selectList) FROM signals
                WHERE event_time >= ? AND event_time <= ? AND CAST(node AS BLOB) IS ? AND sender_pid IS ?
                  AND CAST(sender_exe AS BLOB) IS ? AND probe IS NOT 1
                ORDER BY event_time, serial, event_rowid, target_pid
                """, arguments: [q.start, q.before, kill.node.map { Data($0) }, kill.senderPid, kill.senderExe.map { Data($0) }])
                .map(SignalRow.init)
            var groups: [Group: Incident.Activity] = [:]
            var order: [Group] = []
            for r in rows where !listed.contains("\(r.eventID)/\(r.targetPid.map(String.init) ?? "-")") {
                let g = Group(signal: r.signal, targetPid: r.targetPid, targetComm: r.targetComm,
                              targetArg: r.targetPid == nil ? r.targetArg : nil, success: r.success, errno: r.errno)
                if var a = groups[g] {
                    a.count += 1
                    a.first = min(a.first, r.eventTime)
                    a.last = max(a.last, r.eventTime)
                    groups[g] = a
                } else {
                    order.append(g)
                    groups[g] = Incident.Activity(signalName: r.signalName, signal: r.signal, targetPid: r.targetPid,
                                                  targetComm: r.targetComm, targetArg: g.targetArg, success: r.success,
                                                  errno: r.errno, count: 1, first: r.eventTime, last: r.eventTime)
                }
            }
            let activity = order.enumerated().sorted { a, b in
                let x = groups[a.element]!.count, y = groups[b.element]!.count
                return x != y ? x > y : a.offset < b.offset
            }.map { groups[$0.element]! }
            senders.append(Incident.SenderActivity(node: kill.node, pid: kill.senderPid, comm: kill.senderComm,
                                                   exe: kill.senderExe, activity: activity))
        }
        return senders
    }

    static func repeatedKills(_ db: Database, _ q: IncidentQuery, kills: [SignalRow]) throws -> [Incident.RepeatedKill] {
        var query = q.base(signals: q.signals, target: false)
        query.targetComm = q.targetComm
        var (clause, args) = whereClause(query)
        clause += " AND success IS NOT 0 AND target_comm IS NOT NULL"
        if !q.includeProbes { clause += " AND probe IS NOT 1" }
        if q.targetPid != nil {
            let names = Array(Set(kills.compactMap(\.targetComm)))
            if names.isEmpty { return [] }
            clause += " AND CAST(target_comm AS BLOB) IN (\(names.map { _ in "?" }.joined(separator: ",")))"
            args += names.map { Data($0) }
        }
        let rows = try Row.fetchAll(db, sql: """
            SELECT CAST(node AS BLOB) AS n, CAST(sender_exe AS BLOB) AS exe,
                   CASE WHEN sender_exe IS NULL THEN CAST(sender_comm AS BLOB) END AS comm_key,
                   CAST(target_comm AS BLOB) AS tcomm,
                   COUNT(DISTINCT event_rowid) AS count, COUNT(DISTINCT target_pid) AS processes,
                   COUNT(DISTINCT sender_pid) AS senders, COUNT(DISTINCT sender_comm) AS comms,
                   MIN(CAST(sender_comm AS BLOB)) AS some_comm,
                   MIN(event_time) AS first, MAX(event_time) AS last
            FROM signals WHERE \(clause)
            GROUP BY n, exe, comm_key, tcomm HAVING COUNT(DISTINCT event_rowid) >= 2
            """, arguments: StatementArguments(args))
        return rows.map { r in
            func bytes(_ c: String) -> [UInt8]? { (r[c] as Data?).map { [UInt8]($0) } }
            let exe = bytes("exe")
            return Incident.RepeatedKill(
                node: bytes("n"), senderExe: exe,
                senderComm: exe == nil ? bytes("comm_key") : ((r["comms"] as Int) == 1 ? bytes("some_comm") : nil),
                targetComm: bytes("tcomm") ?? [], count: r["count"], processes: r["processes"],
                senderProcesses: r["senders"], first: r["first"], last: r["last"])
        }
    }
}
