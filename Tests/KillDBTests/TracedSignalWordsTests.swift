import Foundation
import GRDB
import Output
import Queries
import Testing

/// The tracer's record of a kill in an answer's words: the cause, the outcome.
@Suite("a traced kill in words")
struct TracedSignalWordsTests {
    static func row(_ values: [String: (any DatabaseValueConvertible)?]) throws -> TracedSignalRow {
        var base: [String: (any DatabaseValueConvertible)?] = [
            "event_time": 1_796_000_000.0, "signal": 9, "signal_name": "SIGKILL", "si_code": 0, "process_directed": 1,
            "result": "delivered", "cause": "syscall", "syscall": "kill", "sender_pid": 3720, "sender_tid": 3720,
            "sender_comm": Data("sh".utf8), "sender_kthread": 0, "target_pid": 3625, "target_tid": 3625,
            "target_comm": Data("sleep".utf8),
        ]
        for (k, v) in values { base[k] = v }
        return try DatabaseQueue().read { db in
            let columns = base.keys.sorted()
            let sql = "SELECT " + columns.map { "? AS \($0)" }.joined(separator: ", ")
            let row = try Row.fetchOne(db, sql: sql, arguments: StatementArguments(columns.map { base[$0]! }))!
            return TracedSignalRow(testRow: row)
        }
    }

    @Test("cgroup.kill, namespace teardown with the init's own kill, OOM, CPU limit, an ignored kill to a zombie")
    func sentences() throws {
        let cg = try Self.row(["cause": "cgroup-kill", "cause_detail": Data("/app/worker".utf8), "process_directed": 0])
        #expect(TracedSignalWords.sentence(cg) == "pid 3625 (sleep) was killed through cgroup.kill of /app/worker by pid 3720 (sh)")

        let teardown = try Self.row(["cause": "pidns-teardown", "sender_pid": 25291, "sender_comm": Data("python3".utf8),
                                     "target_pid": 25298, "si_code": 128])
        let initKill = try Self.row(["sender_pid": 25278, "sender_comm": Data("python3".utf8), "target_pid": 25291,
                                     "target_comm": Data("python3".utf8)])
        #expect(TracedSignalWords.sentence(teardown, initKill: initKill)
                == "pid 25298 (sleep) was killed by the kernel when its pid namespace's init, pid 25291 (python3), exited; pid 25291 was sent SIGKILL by pid 25278 (python3) through kill")

        let oom = try Self.row(["cause": "oom", "cause_detail": Data("/batch".utf8), "sender_pid": 3625, "si_code": 128])
        #expect(TracedSignalWords.sentence(oom) == "pid 3625 (sleep) was killed by the kernel's OOM killer (memory cgroup /batch) while it allocated memory")

        let cpu = try Self.row(["cause": "cpu-limit", "sender_pid": 3625, "si_code": 128])
        #expect(TracedSignalWords.sentence(cpu).contains("CPU-time limit (RLIMIT_CPU)"))

        let zombie = try Self.row(["result": "ignored"])
        #expect(TracedSignalWords.sentence(zombie).hasSuffix("— the kernel ignored it (the target was already exiting, a zombie, or an init that ignores it)"))
    }

    @Test("a hostile process name is escaped, not printed raw")
    func hostile() throws {
        let r = try Self.row(["sender_comm": Data("x\u{1b}[2J".utf8)])
        #expect(!TracedSignalWords.sentence(r).contains("\u{1b}"))
    }
}
