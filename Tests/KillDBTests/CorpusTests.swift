import Foundation
import GRDB
import KillDB
import Testing

/// The shared public corpus (`../shared/corpus/public`, described in its SOURCES.md): real
/// logs from public projects. Every file must ingest, and the signal events found must be
/// the ones SOURCES.md counted with ausearch and libauparse.
@Suite("public corpus", .enabled(if: TestLogs.corpusAvailable))
struct CorpusTests {
    /// Signal events per file, from SOURCES.md; every other file has none.
    static let expectedSignalEvents: [String: Int] = [
        "SPADE/kill.bin.log": 1,
        "SPADE/kill.bin.extract.log": 1,
        "go-libaudit/audit-rhel7.log": 1,
    ]

    /// Every log in the corpus, relative to it, sorted (SOURCES.md is documentation).
    static func corpusFiles() -> [String] {
        guard let root = TestLogs.corpus,
              let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var out: [String] = []
        for case let rel as String in walker {
            var isDir: ObjCBool = false
            let full = root.appendingPathComponent(rel).path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue else { continue }
            if rel.hasSuffix(".md") || (rel as NSString).lastPathComponent.hasPrefix(".") { continue }
            out.append(rel)
        }
        return out.sorted()
    }

    static func path(_ rel: String) -> String {
        TestLogs.corpus!.appendingPathComponent(rel).path
    }

    @Test("the corpus holds the 58 files SOURCES.md lists")
    func corpusIsComplete() {
        let files = Self.corpusFiles()
        #expect(files.count == 58)
        for name in Self.expectedSignalEvents.keys { #expect(files.contains(name)) }
    }

    @Test("every corpus file ingests, with the number of signal events SOURCES.md gives",
          arguments: CorpusTests.corpusFiles())
    func eachFile(_ rel: String) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([Self.path(rel)], db: db)
            let expected = Self.expectedSignalEvents[rel] ?? 0
            #expect(summary.totals.signalEvents == expected, "\(rel): signal events read")
            #expect(summary.totals.newEvents == expected, "\(rel): events stored")
            #expect(try TestLogs.eventCount(db) == expected, "\(rel): events in the signals view")
            #expect(summary.unparsableEvents == 0, "\(rel): events libauparse could not parse")
            // The whole file was read (these files are old: a last line without newline is complete).
            let size = try TestLogs.size(URL(fileURLWithPath: Self.path(rel)))
            #expect(summary.files.first?.endOffset == size, "\(rel): read to the end")
        }
    }

    @Test("SPADE kill.bin: kill(getpid(), SIGKILL) from kill.bin, target 14809",
          arguments: ["SPADE/kill.bin.log", "SPADE/kill.bin.extract.log"])
    func spadeKill(_ rel: String) throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([Self.path(rel)], db: db)
            let rows = try TestLogs.signals(db)
            try #require(rows.count == 1)
            let r = rows[0]
            #expect(r["event_id"] as String? == "1507314702.045:14843574")
            #expect(r["arch"] as String? == "x86_64")
            #expect(r["syscall"] as String? == "kill")
            #expect(r["signal"] as Int64? == 9)
            #expect(r["signal_name"] as String? == "SIGKILL")
            #expect(r["probe"] as Int64? == 0)
            #expect(r["success"] as Int64? == 1)
            #expect(r["target_arg"] as Int64? == 14809)
            #expect(r["sender_pid"] as Int64? == 14809)
            #expect(r["sender_ppid"] as Int64? == 14808)
            #expect(r["sender_uid"] as Int64? == 1000)
            #expect(r["sender_auid"] as Int64? == 1004)
            #expect(r["sender_ses"] as Int64? == 74)
            #expect(r["sender_comm"] as String? == "kill.bin")
            #expect(r["sender_exe"] as String? == "/home/vinod/SPADE-VINOD/SPADE/unit_tests/tests/kill.bin")
            #expect(r["sender_tty"] as String? == nil)  // tty=(none)
            #expect(r["key"] as String? == nil)         // key=(null)
            #expect(r["sender_cmdline"] as String? == nil)  // pre-3.17 kernel: no PROCTITLE
            #expect(r["target_pid"] as Int64? == 14809)
            #expect(r["target_uid"] as Int64? == 1000)
            #expect(r["target_auid"] as Int64? == 1004)
            #expect(r["target_ses"] as Int64? == 74)
            #expect(r["target_comm"] as String? == "kill.bin")
        }
    }

    @Test("go-libaudit RHEL7: a kill with SIGHUP and no OBJ_PID is one row with no target")
    func rhel7Kill() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            _ = try TestLogs.ingest([Self.path("go-libaudit/audit-rhel7.log")], db: db)
            let rows = try TestLogs.signals(db)
            try #require(rows.count == 1)
            let r = rows[0]
            #expect(r["event_id"] as String? == "1492000940.864:1095517")
            #expect(r["syscall"] as String? == "kill")
            #expect(r["signal"] as Int64? == 1)
            #expect(r["signal_name"] as String? == "SIGHUP")
            #expect(r["target_arg"] as Int64? == 0x1fde)
            #expect(r["target_pid"] as Int64? == nil)
            #expect(r["sender_comm"] as String? == "bash")
            #expect(r["sender_subj"] as String? == "unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023")
            #expect(r["key"] as String? == "kill_signals")
        }
    }

    @Test("an OBJ_PID from ptrace (laurel record-ptrace) is not a signal event")
    func ptraceObjPIDIsNotASignal() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([Self.path("laurel/record-ptrace.txt")], db: db)
            #expect(summary.totals.signalEvents == 0)
            #expect(summary.totals.newEvents == 0)
            #expect(try TestLogs.rowCount(db) == 0)
            #expect(try TestLogs.query(db, "SELECT COUNT(*) AS n FROM targets").first?["n"] as Int? == 0)
        }
    }

    @Test("ingesting the whole corpus twice adds nothing the second time")
    func wholeCorpusTwice() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let files = Self.corpusFiles().map(Self.path)
            let first = try TestLogs.ingest(files, db: db)
            // kill.bin.log and its extract hold the same event: two distinct events in all.
            #expect(first.totals.newEvents == 2)
            let before = try TestLogs.snapshot(db)
            #expect(before.count == 2)
            let second = try TestLogs.ingest(files, db: db)
            #expect(second.totals.newEvents == 0)
            #expect(second.files.allSatisfy { $0.startOffset == $0.endOffset })
            #expect(try TestLogs.snapshot(db) == before)
        }
    }
}
