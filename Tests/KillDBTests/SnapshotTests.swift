import Foundation
import KillDB
import Queries
import Store
import Testing

/// An answer is read in one snapshot: asked while an ingest commits, its counts agree with
/// its rows. Read in several transactions, the coverage (read last) would count events
/// that committed after the rows were read.
@Suite("one snapshot per answer: who and report while an ingest commits")
struct SnapshotTests {
    /// The writer's state, shared with the reading test.
    final class Writer: @unchecked Sendable {
        private let lock = NSLock()
        private var _done = false
        private var _error: String?
        private var _answers = 0
        var done: Bool { lock.withLock { _done } }
        var error: String? { lock.withLock { _error } }
        func finish(_ error: String?) { lock.withLock { _done = true; _error = error } }
        /// The reader finished an answer.
        func answered() { lock.withLock { _answers += 1 } }
        var answers: Int { lock.withLock { _answers } }
        /// After a commit, until the reader has finished two more answers (the second begun
        /// after the commit and read before the next one; at most 5 s): a writer faster than the
        /// reader would otherwise commit every round between two answers.
        func awaitAnswers(after n: Int) {
            let deadline = Date().addingTimeInterval(5)
            while answers < n + 2 && Date() < deadline { usleep(1000) }
        }
    }

    static let base = 1_700_000_000

    /// Round `n`: `perRound` SIGKILLs, each to a pid of its own, and one OOM kill in the
    /// kernel log, a second apart.
    static func round(_ n: Int, perRound: Int) -> (audit: String, kernel: String) {
        var audit = ""
        for i in 0..<perRound {
            let k = n * perRound + i
            audit += AuditLine.killEvent("\(base + k).000:\(k + 1)", target: 100_000 + k)
        }
        let stamp = Date(timeIntervalSince1970: Double(base + n * perRound))
        let time = ISO8601DateFormatter().string(from: stamp).replacingOccurrences(of: "Z", with: ".000000+00:00")
        let pid = 500_000 + n
        let kernel = "\(time) host kernel: Out of memory: Killed process \(pid) (hog\(n)) total-vm:1000kB, anon-rss:900kB, file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:8kB oom_score_adj:0\n"
        return (audit, kernel)
    }

    @Test("who and report, asked in a loop while an ingest commits: every answer's counts agree with its rows")
    func answersDuringIngest() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let kern = dir.appendingPathComponent("kern.log")
            let db = dir.appendingPathComponent("killdb.sqlite")
            let perRound = 40, rounds = 30
            var options = IngestOptions()
            options.kernelLogs = [kern.path]
            // The database exists before the reader starts, as after the first cron run.
            let first = Self.round(0, perRound: perRound)
            try TestLogs.write(first.audit, to: log)
            try TestLogs.write(first.kernel, to: kern)
            _ = try Ingest.run(paths: [log.path], databasePath: db.path, options: options)

            let writer = Writer()
            let paths = (log: log, kern: kern, db: db.path)
            DispatchQueue.global().async { [options] in
                do {
                    for n in 1..<rounds {
                        let r = Self.round(n, perRound: perRound)
                        try TestLogs.append(r.audit, to: paths.log)
                        try TestLogs.append(r.kernel, to: paths.kern)
                        _ = try Ingest.run(paths: [paths.log.path], databasePath: paths.db, options: options)
                        let before = writer.answers
                        // Three commits each answered from, so at least three counts are seen.
                        if [1, rounds / 3, 2 * rounds / 3].contains(n) { writer.awaitAnswers(after: before) }
                    }
                    writer.finish(nil)
                } catch {
                    writer.finish("\(error)")
                }
            }

            let store = try SignalStore.openReadOnly(path: db.path)
            var whoQuery = SignalQuery()
            whoQuery.after = Double(Self.base - 10)
            var reportQuery = IncidentQuery(before: Double(Self.base + rounds * perRound + 10), window: Double(rounds * perRound + 20))
            reportQuery.limit = 1_000_000
            var answers = 0, seen: Set<Int> = [], disagreements: [String] = []
            while !writer.done || answers == 0 {
                let who = try Who.ask(whoQuery, in: store)
                // Every event is one delivered SIGKILL to a pid of its own: the rows are the events.
                if who.rows.count != who.coverage.signalEvents || who.kernelKills.count != who.kernelCoverage.kills {
                    disagreements.append("who: \(who.rows.count) rows of \(who.coverage.signalEvents) events, "
                        + "\(who.kernelKills.count) kernel kills of \(who.kernelCoverage.kills)")
                }
                let report = try IncidentReportQuery.run(reportQuery, in: store)
                let c = report.coverage
                if report.signalKillsTotal != c.database.signalEvents || report.kills.count != c.database.signalEvents
                    || report.kernelKills.count != c.kernel.kills {
                    disagreements.append("report: \(report.signalKillsTotal) kills of \(c.database.signalEvents) events, "
                        + "\(report.kernelKills.count) kernel kills of \(c.kernel.kills)")
                }
                answers += 1
                seen.insert(who.coverage.signalEvents)
                writer.answered()
            }
            #expect(writer.error == nil, "the ingest failed: \(writer.error ?? "")")
            #expect(disagreements.isEmpty, "\(disagreements.count) of \(answers) answers disagree with themselves: \(disagreements.prefix(5))")
            // Otherwise nothing was tested: the answers must have been asked between commits.
            #expect(seen.count >= 3, "the answers saw only \(seen.sorted()) events: too few commits in between")
            let last = try Who.ask(whoQuery, in: store)
            #expect(last.rows.count == rounds * perRound && last.kernelKills.count == rounds)
        }
    }
}
