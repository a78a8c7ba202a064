import Foundation
import GRDB
import KillDB
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Several processes at one database, as on a real host: an operator querying while cron's
/// ingest writes, and two ingests overlapping when one run is slow.
@Suite("concurrent access: readers during ingest, overlapping ingests")
struct ConcurrentAccessTests {
    @Test("`killdb sql` reads while an ingest writes: never 'database is locked'")
    func readersDuringIngest() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let log = try BigLog.write(in: dir, signalEvents: 12_000)
            let db = dir.appendingPathComponent("killdb.sqlite")
            // The database exists (as it does after the first cron run); then the big ingest.
            let small = dir.appendingPathComponent("first.log")
            try TestLogs.write(AuditLine.killEvent("1600000000.000:1", target: 77), to: small)
            try TestLogs.age(small)
            #expect(cli.run(["ingest", "--db", db.path, "--quiet", small.path]).status == 0)

            let ingest = try cli.start(["ingest", "--db", db.path, "--quiet", log.directory.path])
            var reads = 0, counts: [Int] = []
            while ingest.process.isRunning || reads == 0 {
                let r = cli.run(["sql", "--db", db.path, "--format", "csv", "SELECT COUNT(*) AS n FROM signals"])
                reads += 1
                #expect(r.status == 0 || r.status == 1, "reader \(reads) during ingest: \(r)")
                #expect(!r.stderr.localizedCaseInsensitiveContains("locked")
                        && !r.stderr.localizedCaseInsensitiveContains("busy"), "reader \(reads): \(r)")
                // CSV lines end in CRLF.
                if let n = r.stdout.split(whereSeparator: \.isNewline).last.flatMap({ Int($0) }) { counts.append(n) }
            }
            let done = ingest.finish()
            #expect(done.status == 0, "ingest: \(done)")
            #expect(counts == counts.sorted(), "a reader saw the count go down: \(counts)")
            #expect(try TestLogs.rowCount(db) == log.signalRows + 1)
            AuditSandbox.loud("concurrent readers: \(reads) reads during the ingest, counts seen "
                + "\(Array(Set(counts)).sorted().prefix(12))")
            #expect(reads >= 3, "the ingest finished too fast to test readers against it")
            #expect(counts.count == reads, "every read printed a count")
            #expect(Set(counts).count >= 2, "readers never saw the ingest's intermediate commits: \(Set(counts))")
        }
    }

    @Test("two ingests at once, default --wait: the second waits, then adds nothing")
    func overlappingIngestsWait() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let log = try BigLog.write(in: dir, signalEvents: 8_000)
            let reference = dir.appendingPathComponent("reference.sqlite")
            _ = try TestLogs.ingest([log.directory], db: reference)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let args = ["ingest", "--db", db.path, "--format", "json", log.directory.path]
            let a = try cli.start(args), b = try cli.start(args)
            let ra = a.finish(), rb = b.finish()
            #expect(ra.status == 0, "first: \(ra)")
            #expect(rb.status == 0, "second: \(rb)")
            // One of them stored everything; the other, having waited, found nothing new.
            let news = [ra, rb].map { newEvents($0.stdout) }
            #expect(Set(news) == [0, log.signalEvents], "new events per run: \(news); \(ra) / \(rb)")
            try expectSameSignals(db, reference, context: "two waiting ingests")
        }
    }

    @Test("two ingests at once with --wait 0: one succeeds, the other exits 75 naming it")
    func overlappingIngestsNoWait() throws {
        let cli = try KillDBCLI.require()
        try TestLogs.withScratch { dir in
            let log = try BigLog.write(in: dir, signalEvents: 8_000)
            let reference = dir.appendingPathComponent("reference.sqlite")
            _ = try TestLogs.ingest([log.directory], db: reference)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let args = ["ingest", "--db", db.path, "--wait", "0", "--quiet", log.directory.path]
            let a = try cli.start(args), b = try cli.start(args)
            let pids = [a.process.processIdentifier, b.process.processIdentifier]
            let results = [a.finish(), b.finish()]
            let winners = results.indices.filter { results[$0].status == 0 }
            let busy = results.indices.filter { results[$0].status == 75 }
            #expect(winners.count == 1 && busy.count == 1, "want one 0 and one 75: \(results)")
            if let w = winners.first, let l = busy.first {
                let message = results[l].stderr
                #expect(message.contains("another killdb ingest"), "\(message)")
                // The holder's pid is in the lock file; it must be the winner's.
                #expect(message.contains("(pid \(pids[w]))"), "the refusal must name the running ingest (pid \(pids[w])): \(message)")
            }
            try expectSameSignals(db, reference, context: "--wait 0")
        }
    }

    private func newEvents(_ json: String) -> Int {
        guard let data = json.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return -1 }
        func find(_ v: Any) -> Int? {
            if let d = v as? [String: Any] {
                for (k, x) in d {
                    if k == "new_events" || k == "newEvents", let n = x as? Int { return n }
                    if let n = find(x) { return n }
                }
            }
            return nil
        }
        return find(obj) ?? -1
    }
}
