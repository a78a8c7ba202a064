import Foundation
import GRDB
import KernelTrace
import KillDB
import Store
import Testing

/// `killdb merge` carries the tracer's sessions, losses and records: keyed by what they
/// are (a session by node, boot and start; a record by boot, boot-clock time, threads and
/// signal), so merging again, or back, adds nothing.
@Suite("merge: the tracer's records come along")
struct TraceMergeTests {
    static func record(_ i: Int, boot: UInt64 = 5_000_000_000) -> TracedSignal {
        let sender = TracedTask(process: ProcessIdentity(pid: 3720, startNanoseconds: 1_000), tid: 3720, comm: Array("sh".utf8),
                                cgroupID: 7, pidNamespace: 4_026_531_836, namespacePid: 3720)
        let target = TracedTask(process: ProcessIdentity(pid: Int32(3600 + i), startNanoseconds: 2_000), tid: Int32(3600 + i),
                                comm: Array("sleep".utf8), cgroupID: 8, pidNamespace: 4_026_531_836, namespacePid: Int32(3600 + i))
        return TracedSignal(bootNanoseconds: boot + UInt64(i), time: 1_796_000_000 + Double(i), signal: 9, code: 0,
                            processDirected: i % 2 == 0, result: .delivered, syscallNumber: i % 2 == 0 ? nil : 62,
                            cause: i % 2 == 0 ? .cgroupKill(cgroup: "/app/worker") : .syscall("kill"),
                            sender: sender, target: target, uid: 0, euid: 0, loginUID: 1000, sessionID: 3,
                            parent: ProcessIdentity(pid: 1, startNanoseconds: 0), parentComm: Array("systemd".utf8),
                            argv: Array("sh\0-c\0echo 1 > cgroup.kill".utf8), argvTruncated: false,
                            exe: Array("/usr/bin/dash".utf8), senderIsKernelThread: false)
    }

    /// A database holding one finished trace session of `count` records and one loss.
    static func traced(_ url: URL, count: Int, bootID: String = "boot-a") throws {
        let store = try SignalStore.openForWriting(path: url.path)
        try store.transaction { tx in
            let s = try tx.beginTraceSession(version: "test", hostname: "host-a", signals: "SIGKILL", bootID: bootID,
                                             bootTime: 1_795_999_000)
            try tx.store((0..<count).map { Self.record($0) }, session: s)
            try tx.recordTraceLoss(TraceLoss(from: 1_796_000_100, to: 1_796_000_101, count: 3), session: s)
            try tx.updateTraceSession(s, records: count, lost: 3, finished: true, status: "complete")
        }
    }

    static func count(_ url: URL, _ sql: String) throws -> Int {
        try DatabaseQueue(path: url.path).read { try Int.fetchOne($0, sql: sql) ?? -1 }
    }

    @Test("sessions, losses and records are copied; re-merging, or merging back, adds nothing")
    func copiedOnce() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("a.sqlite"), fleet = dir.appendingPathComponent("fleet.sqlite")
            try Self.traced(a, count: 6)
            let first = try SignalStore.openForWriting(path: fleet.path).merge(from: a.path)
            #expect(first.newTracedSignals == 6 && first.newTraceSessions == 1, "\(first)")
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM traced_signals") == 6)
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM trace_losses") == 1)
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM trace_coverage WHERE status = 'complete' AND records = 6 AND lost = 3") == 1)
            // Strings re-interned: the view reads the same words.
            let row = try DatabaseQueue(path: fleet.path).read {
                try Row.fetchOne($0, sql: "SELECT * FROM traced_signals WHERE target_pid = 3600")
            }
            #expect(row?["cause"] as String? == "cgroup-kill" && row?["cause_detail"] as String? == "/app/worker")
            #expect(row?["sender_cmdline"] as String? == "sh -c echo 1 > cgroup.kill" && row?["sender_exe"] as String? == "/usr/bin/dash")

            let again = try SignalStore.openForWriting(path: fleet.path).merge(from: a.path)
            #expect(again.newTracedSignals == 0 && again.newTraceSessions == 0, "\(again)")
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM traced_signal_records") == 6)
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM trace_sessions") == 1)
            #expect(try Self.count(fleet, "SELECT COUNT(*) FROM trace_losses") == 1)

            let back = try SignalStore.openForWriting(path: a.path).merge(from: fleet.path)
            #expect(back.newTracedSignals == 0 && back.newTraceSessions == 0, "\(back)")
            #expect(try Self.count(a, "SELECT COUNT(*) FROM traced_signal_records") == 6)
            #expect(try Self.count(a, "SELECT COUNT(*) FROM trace_sessions") == 1)
        }
    }

    @Test("who on the merged database shows the traced kill (cgroup.kill) as on the source")
    func whoAfterMerge() throws {
        try TestLogs.withScratch { dir in
            let a = dir.appendingPathComponent("a.sqlite"), fleet = dir.appendingPathComponent("fleet.sqlite")
            try Self.traced(a, count: 2)
            _ = try SignalStore.openForWriting(path: fleet.path).merge(from: a.path)
            let r = try CLI.run(["who", "--pid", "3600", "--db", fleet.path])
            #expect(r.status == 0, "\(r)")
            #expect(r.stdout.contains("cgroup.kill of /app/worker by pid 3720 (sh)"), "\(r.stdout)")
        }
    }
}
