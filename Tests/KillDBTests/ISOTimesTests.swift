import Foundation
import GRDB
import Testing

/// Migration 007: every time in the public views also as ISO 8601 UTC text.
@Suite("the views give every time in ISO 8601 UTC beside the epoch")
struct ISOTimesTests {
    /// `epoch` as ISO 8601 with milliseconds, by Foundation, not SQLite.
    static func iso(_ epoch: Double) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.string(from: Date(timeIntervalSince1970: (epoch * 1000).rounded() / 1000))
    }

    @Test("signals, lost_events, kernel_kills and systemd_kills: each _utc column is its epoch column")
    func viewsCarryISOTimes() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let kernel = TestLogs.testsDirectory.appendingPathComponent("Fixtures/kernel").path
            let r = try CLI.run(["ingest", "--db", db.path, "--kernel-log", kernel + "/kern.log-4.19",
                                 "--journal", kernel + "/journal-systemd.json",
                                 TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path])
            try #require(r.status == 0, "\(r.stderr)")
            let checks: [(view: String, pairs: [(String, String)])] = [
                ("signals", [("event_time", "event_time_utc")]),
                ("lost_events", [("after_time", "after_time_utc"), ("before_time", "before_time_utc")]),
                ("kernel_kills", [("event_time", "event_time_utc")]),
                ("systemd_kills", [("event_time", "event_time_utc")]),
            ]
            for (view, pairs) in checks {
                let rows = try TestLogs.query(db, "SELECT * FROM \(view)")
                #expect(!rows.isEmpty, "\(view) is empty: the fixture should fill it")
                for row in rows {
                    for (epoch, utc) in pairs {
                        let t: Double = row[epoch]
                        let text: String = row[utc]
                        #expect(text == Self.iso(t), "\(view).\(utc)")
                    }
                }
                // New columns come last: positional readers of the old columns are unaffected
                // (`verified`, migration 014, came after these).
                let columns = try TestLogs.query(db, "SELECT name FROM pragma_table_info('\(view)')").map { $0["name"] as String }
                    .filter { $0 != "verified" && $0 != "sender_context_missing" }
                #expect(Array(columns.suffix(pairs.count)) == pairs.map(\.1), "\(view): \(columns)")
            }
        }
    }

    /// Migration 013: the views 007 left without. Their epoch columns, every one, have their
    /// `_utc` column last; an epoch that is NULL (a session not finished) gives NULL.
    @Test("coverage, traced_signals, trace_coverage and process_context have ISO columns too, last; every view's every time has one")
    func everyViewHasISOTimes() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("k.sqlite")
            let r = try CLI.run(["ingest", "--db", db.path, TestLogs.testsDirectory.appendingPathComponent("Fixtures/report/incident.log").path])
            try #require(r.status == 0, "\(r.stderr)")
            let expected: [String: [String]] = [
                "coverage": ["first_event_time_utc", "last_event_time_utc"],
                "traced_signals": ["event_time_utc", "sender_start_time_utc", "sender_parent_start_time_utc", "target_start_time_utc"],
                "trace_coverage": ["started_at_utc", "covered_until_utc"],
                "process_context": ["start_time_utc", "read_at_utc"],
            ]
            for (view, utc) in expected {
                // (`sender_context_missing`, migration 015, came after these.)
                let columns = try TestLogs.query(db, "SELECT name FROM pragma_table_info('\(view)')").map { $0["name"] as String }
                    .filter { $0 != "sender_context_missing" }
                #expect(Array(columns.suffix(utc.count)) == utc, "\(view): \(columns)")
            }
            // Every time column of every view has its ISO twin.
            let views = try TestLogs.query(db, "SELECT name FROM sqlite_schema WHERE type = 'view'").map { $0["name"] as String }
            for view in views {
                let columns = Set(try TestLogs.query(db, "SELECT name FROM pragma_table_info('\(view)')").map { $0["name"] as String })
                for c in columns where (c.hasSuffix("_time") || c.hasSuffix("_at") || c == "covered_until") && c != "run_started" {
                    #expect(columns.contains(c + "_utc"), "\(view).\(c) has no \(c)_utc")
                }
            }
            for row in try TestLogs.query(db, "SELECT * FROM coverage") {
                #expect(row["first_event_time_utc"] as String? == Self.iso(row["first_event_time"]))
            }
            // A seccomp kill's reason names the syscall (libaudit's name for the record's arch).
            let seccomp = TestLogs.testsDirectory.appendingPathComponent("Fixtures/kernel/seccomp-i386.log").path
            try #require(try CLI.run(["ingest", "--db", db.path, seccomp]).status == 0)
            #expect(try TestLogs.query(db, "SELECT reason FROM kernel_kills").first?["reason"] as String? == "a seccomp filter refused syscall getpgid (i386)")
        }
    }
}
