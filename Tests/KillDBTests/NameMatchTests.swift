import Foundation
import KillDB
import Queries
import Store
import Testing

/// Process names as the kernel keeps them: comm is cut to 15 bytes, and a name may hold
/// glob characters.
@Suite("who: names longer than the kernel keeps, and names that look like patterns")
struct NameMatchTests {
    static func event(_ stamp: String, target: Int, targetComm: String, senderComm: String = "bash") -> String {
        AuditLine.killSyscall(stamp, target: Int64(target), signal: 9)
            .replacingOccurrences(of: "comm=\"bash\"", with: "comm=\"\(senderComm)\"")
            + AuditLine.objPID(stamp, pid: target, comm: targetComm)
            + AuditLine.proctitle(stamp, argv: ["kill", "-9", "\(target)"])
    }

    @Test("a long name matches on its first 15 bytes; a name with [ finds the process named exactly that")
    func longAndPatternLikeNames() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            try TestLogs.write(Self.event("1795600000.100:10", target: 500, targetComm: "elasticsearch-w", senderComm: "plain-long-send")
                               + Self.event("1795600001.100:11", target: 501, targetComm: "evil[x")
                               + Self.event("1795600002.100:12", target: 502, targetComm: "evilx"), to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("k.sqlite")
            _ = try TestLogs.ingest([log], db: db)
            let store = try SignalStore.openReadOnly(path: db.path)
            func targets(_ change: (inout SignalQuery) -> Void) throws -> [Int64?] {
                var q = SignalQuery()
                change(&q)
                return try Who.ask(q, in: store).rows.map(\.targetPid)
            }
            #expect(try targets { $0.targetComm = "elasticsearch-worker" } == [500])
            #expect(try targets { $0.senderComm = "plain-long-sender-name" } == [500])
            #expect(SignalQuery.keptName("elasticsearch-worker") == "elasticsearch-w")
            #expect(SignalQuery.keptName("elasticsearch-w*") == nil && SignalQuery.keptName("short") == nil)
            // `evil[x` as a glob matches neither name; as a name it is one of them.
            #expect(try targets { $0.targetComm = "evil[x" } == [501])
            #expect(try targets { $0.targetComm = "evil*" } == [502, 501])
        }
    }
}
