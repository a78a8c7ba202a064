import Foundation
import GRDB

/// A kill on record that ended the process then holding a pid: after it, the pid belongs
/// to another process. Names are weak evidence (a restarted service keeps its name); a
/// kill is strong, and the kernel's own kill (the OOM killer) is proof.
public struct ProcessEnd: Sendable, Equatable {
    public var time: Double
    /// The kernel killed it itself: its log says the process died. A SIGKILL the kernel
    /// accepted (kill returned 0) almost always killed it, but a zombie or an init that
    /// ignores it accepts one too.
    public var byKernel: Bool

    public init(time: Double, byKernel: Bool) {
        self.time = time
        self.byKernel = byKernel
    }
}

/// How a kill relates to the process the answer is about, when both went to one pid.
public enum SameProcess: Sendable, Equatable {
    /// An earlier process: a kill on record between the two ended the one this reached.
    case earlier(ProcessEnd)
    /// Nothing on record ended a process with this pid in between, but the name differs:
    /// perhaps another process.
    case otherName
    /// Same name (or a thread, whose name is its own), nothing on record in between: the
    /// log cannot tell whether this reached the same process or an earlier one.
    case cannotTell
}

enum PidInstances {
    /// Two kills closer than this are of one dying process (kill -9 sent twice): the
    /// kernel does not hand a pid out again that fast except when told to (ns_last_pid).
    static let dyingTime = 1.0

    /// The kills that ended processes with `pid` on `node` before `before` (exclusive),
    /// oldest first: SIGKILLs the kernel accepted and the kernel's own kills.
    static func ends(_ db: Database, pid: Int64, node: [UInt8]?, before: Double) throws -> [ProcessEnd] {
        let nodeValue = Data(node ?? [])
        let ms = SignalSearch.firstMillisecond(atOrAfter: before)
        // Cached: a report asks this for each kill it lists, and preparing a statement over
        // the kernel_kills view cost more than running it (a tenth of a 100-kill report).
        let signalled = try Double.fetchAll(db.cachedStatement(sql: """
            SELECT t.time_ms / 1000.0 FROM targets t JOIN events e ON e.id = t.event_id
            WHERE t.pid = ? AND t.signal = 9 AND t.failed = 0 AND t.time_ms < ?
              AND e.node_id = (SELECT id FROM strings WHERE value = ?)
            ORDER BY t.time_ms
            """), arguments: [pid, ms, nodeValue]).map { ProcessEnd(time: $0, byKernel: false) }
        let kernel = try Double.fetchAll(db.cachedStatement(sql: """
            SELECT event_time FROM kernel_kills WHERE pid = ? AND event_time < ? AND COALESCE(CAST(node AS BLOB), X'') = ?
            """), arguments: [pid, before, nodeValue]).map { ProcessEnd(time: $0, byKernel: true) }
        var out: [ProcessEnd] = []
        for e in (signalled + kernel).sorted(by: { $0.time < $1.time }) {
            if let last = out.last, e.time - last.time < dyingTime {
                out[out.count - 1].time = e.time
                if e.byKernel { out[out.count - 1].byKernel = true }
                continue
            }
            out.append(e)
        }
        // A kill just before the answer's is of the process the answer is about, dying.
        return out.filter { before - $0.time >= dyingTime }
    }

    /// Marks each kill that went to the answer's pid with how it relates to the answer's
    /// process, and gives the answer the ends of earlier processes with its pid.
    static func mark(_ kills: inout [Kill], _ db: Database) throws {
        guard let first = kills.first?.signal, let pid = first.targetPid else { return }
        let ends = try self.ends(db, pid: pid, node: first.node, before: first.eventTime)
        kills[0].earlierEnds = ends
        for i in kills.indices.dropFirst() {
            guard let r = kills[i].signal, r.targetPid == pid, r.node == first.node else { continue }
            if let end = ends.first(where: { $0.time >= r.eventTime - 0.0005 }) {
                kills[i].sameProcess = .earlier(end)
            } else if !r.aim.isThread && !first.aim.isThread && r.targetComm != first.targetComm {
                kills[i].sameProcess = .otherName
            } else {
                kills[i].sameProcess = .cannotTell
            }
        }
    }
}
