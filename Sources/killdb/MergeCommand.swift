import ArgumentParser
import Foundation
import KillDB
import Output
import Store

struct MergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge other killdb databases into one.",
        discussion: """
            Copies into the database (--db) every signal event the source databases hold \
            and it lacks, recognised by the audit event's identity (node, time, serial): an \
            event already held is not added again, so merging the same source twice adds \
            nothing. Targets, auditd's own records and holes in each host's serial sequence \
            come along, and so does each source's coverage: its ingest runs and file reads \
            are copied with the path marked "[merged from SOURCE]", so `coverage` and the \
            answers of `who` still say what was read. A source's copy of an event the \
            database holds that tells another story (another sender, signal or target) is \
            not mixed in: the database's copy is kept, the source's goes to the \
            event_conflicts table, and the summary warns of it.

            Each source is opened read-only and merged in one transaction: a source an \
            ingest is writing is read as it stood at that moment. A source written by a \
            newer killdb is refused. The merge takes the ingest lock on the target (--wait).

            Typical use: one database per audit collector, merged into one for questions \
            about the whole fleet.

            Examples:
              killdb merge --db /srv/killdb/fleet.sqlite /srv/killdb/collector-*.sqlite
              killdb merge --db all.sqlite --format json a.sqlite b.sqlite
            """
    )

    @OptionGroup var database: DatabaseOption

    @Argument(help: ArgumentHelp("Source databases to merge into --db.", valueName: "source"))
    var sources: [String]

    @Option(help: ArgumentHelp("Seconds to wait for an ingest to finish with the target.", valueName: "seconds"))
    var wait: Double = 10

    @Flag(name: .shortAndLong, help: "Print nothing but errors.")
    var quiet = false

    @Option(help: "Summary format: text or json.")
    var format: IngestCommand.SummaryFormat = .text

    func validate() throws {
        guard !sources.isEmpty else { throw ValidationError("name at least one source database") }
        guard wait >= 0 else { throw ValidationError("--wait must be zero or more seconds") }
    }

    func run() throws {
        let target = database.path
        let lock = try IngestLock.acquire(database: target, wait: wait)
        defer { lock.release() }
        // A target this run creates is removed again if nothing could be merged into it:
        // a failed merge must not leave an empty database that looks like an answer.
        let created = !FileManager.default.fileExists(atPath: target)
        var merged = false
        do {
            let store = try SignalStore.openForWriting(path: target)
            var results: [MergeResult] = []
            for source in sources {
                // Each source commits on its own: a bad one later does not undo the good ones.
                do {
                    results.append(try store.merge(from: source, version: Ingest.version))
                    merged = true
                } catch {
                    if !quiet && merged { emit(results, target: target, store: store) }
                    throw error
                }
            }
            if !quiet { emit(results, target: target, store: store) }
        } catch {
            if created && !merged {
                for suffix in ["", "-wal", "-shm", "-journal", ".lock"] { unlink(target + suffix) }
            }
            throw error
        }
    }

    private func emit(_ results: [MergeResult], target: String, store: SignalStore) {
        let total = (try? store.eventCount()) ?? 0
        switch format {
        case .text: print(MergeSummary.text(results, database: target, totalEvents: total), terminator: "")
        case .json: print(MergeSummary.json(results, database: target, totalEvents: total))
        }
    }
}

/// What `killdb merge` prints.
enum MergeSummary {
    static func text(_ results: [MergeResult], database: String, totalEvents: Int) -> String {
        var out = ""
        for r in results {
            out += "\(SafeText.line(r.source)): \(r.newEvents) new event\(r.newEvents == 1 ? "" : "s")"
            let held = r.sourceEvents - r.newEvents
            if held > 0 { out += ", \(held) already held" }
            if r.completedEvents > 0 { out += ", \(r.completedEvents) completed" }
            out += "; \(r.newTargets) target\(r.newTargets == 1 ? "" : "s"), \(r.newDaemonRecords) auditd record\(r.newDaemonRecords == 1 ? "" : "s"), "
            out += "\(r.newSerialGaps) serial gap\(r.newSerialGaps == 1 ? "" : "s"), \(r.copiedRuns) ingest run\(r.copiedRuns == 1 ? "" : "s") of coverage"
            if r.newTracedSignals > 0 || r.newTraceSessions > 0 {
                out += ", \(r.newTracedSignals) traced signal\(r.newTracedSignals == 1 ? "" : "s") in \(r.newTraceSessions) new tracer session\(r.newTraceSessions == 1 ? "" : "s")"
            }
            out += "\n"
            if r.conflictingEvents > 0 {
                let n = r.conflictingEvents
                out += "warning: \(n) conflicting cop\(n == 1 ? "y" : "ies") in \(SafeText.line(r.source)): the source's copy of \(n == 1 ? "an event" : "events") this database holds told another story (another sender, signal or target); this database's copy was kept, the source's \(n == 1 ? "is" : "are") in the event_conflicts table\n"
            }
        }
        out += "database: \(SafeText.line(database)) (\(totalEvents) event\(totalEvents == 1 ? "" : "s") in all)\n"
        return out
    }

    static func json(_ results: [MergeResult], database: String, totalEvents: Int) -> String {
        JSON.write(.sorted([
            ("database", .string(database)),
            ("events", .integer(totalEvents)),
            ("sources", .array(results.map { r in
                .sorted([
                    ("source", .string(r.source)), ("source_events", .integer(r.sourceEvents)), ("new_events", .integer(r.newEvents)),
                    ("new_targets", .integer(r.newTargets)), ("completed_events", .integer(r.completedEvents)),
                    ("new_strings", .integer(r.newStrings)), ("new_daemon_records", .integer(r.newDaemonRecords)),
                    ("new_serial_gaps", .integer(r.newSerialGaps)), ("copied_runs", .integer(r.copiedRuns)),
                    ("new_kernel_kills", .integer(r.newKernelKills)), ("new_systemd_actions", .integer(r.newSystemdActions)),
                    ("copied_file_reads", .integer(r.copiedFileReads)), ("new_execs", .integer(r.newExecs)),
                    ("new_trace_sessions", .integer(r.newTraceSessions)), ("new_traced_signals", .integer(r.newTracedSignals)),
                    ("conflicting_copies", .integer(r.conflictingEvents)),
                ])
            })),
        ]))
    }
}
