import AuditDecoding
import AuditLog
import KillDB
import Output
import Foundation
import Testing

/// Lost-event detection across reboots: the kernel's serial counter restarts at every boot,
/// however low it had got, and a hole in the new boot's sequence is still a hole.
@Suite struct SerialGapTests {
    func id(_ seconds: Int64, _ serial: UInt32) -> EventID {
        EventID(seconds: seconds, milliseconds: 0, serial: serial)
    }

    /// The previous boot ended at serial 500 (far below a million): its successor's gap
    /// (serials 13 to 16 never logged) was hidden, and no false gap may appear either.
    @Test func aRebootAfterALowSerialStillShowsTheNewBootsGaps() {
        var tracker = SerialGapTracker()
        for s in UInt32(1)...500 { tracker.observe(id(1_000, s)) }
        // Reboot a minute later: the counter starts again.
        for s in UInt32(1)...12 { tracker.observe(id(1_060, s)) }
        for s in UInt32(17)...600 { tracker.observe(id(1_070, s)) }
        tracker.finish(complete: true)
        let gaps = tracker.takeFound()
        #expect(gaps.map(\.missing) == [4], "\(gaps)")
        #expect(gaps.first?.after.serial == 12 && gaps.first?.before.serial == 17)
    }

    /// auditd's DAEMON_START says a new sequence may begin even when the clock is behind.
    @Test func daemonStartAllowsTheSequenceToRestart() {
        var tracker = SerialGapTracker()
        for s in UInt32(1)...300 { tracker.observe(id(5_000, s)) }
        tracker.daemonStarted(node: "")
        // The clock was set back (no RTC): time and serial both fall.
        for s in UInt32(1)...5 { tracker.observe(id(4_000, s)) }
        for s in UInt32(9)...400 { tracker.observe(id(4_010, s)) }
        tracker.finish(complete: true)
        #expect(tracker.takeFound().map(\.missing) == [3])
    }

    /// A serial that moves forward while the clock falls far back cannot be one sequence:
    /// the gap would end before it started.
    @Test func aForwardSerialWithTimeFarBackIsANewSequenceNotAGap() {
        var tracker = SerialGapTracker()
        for s in UInt32(1)...10 { tracker.observe(id(9_000, s)) }
        for s in UInt32(50)...60 { tracker.observe(id(2_000, s)) }
        tracker.finish(complete: true)
        let gaps = tracker.takeFound()
        #expect(gaps.isEmpty, "\(gaps)")
        #expect(gaps.allSatisfy { $0.before.time >= $0.after.time })
    }

    /// Late records of one boot (lower serial, slightly earlier time) still fill holes and
    /// do not restart the sequence.
    @Test func lateRecordsStillFillHoles() {
        var tracker = SerialGapTracker()
        for s in UInt32(1)...10 { tracker.observe(id(100, s)) }
        tracker.observe(id(101, 14))
        tracker.observe(id(100, 12))   // late
        tracker.observe(id(100, 11))
        tracker.observe(id(101, 13))
        tracker.observe(id(101, 9))    // a repeat of one already seen
        for s in UInt32(15)...30 { tracker.observe(id(102, s)) }
        tracker.finish(complete: true)
        #expect(tracker.takeFound().isEmpty)
    }
}

/// Logs of several hosts without `node=` names (auditd's default name_format = NONE): each
/// host's serials are its own count, so a sequence never runs from one host's file into another's.
@Suite struct UnnamedHostsTests {
    /// `count` noise records from `serial` on, a second apart from `seconds`, with a hole of
    /// `hole` serials in the middle when asked.
    func host(seconds: Int64, serial: Int, count: Int, hole: Int = 0) -> String {
        var text = ""
        var s = serial
        for i in 0..<count {
            if i == count / 2 { s += hole }
            text += AuditLine.noise("\(seconds + Int64(i)).000:\(s)")
            s += 1
        }
        return text
    }

    @Test("files of different unnamed hosts: no events counted missing, no backwards gap, one warning naming name_format")
    func mixedHostsAreNotOneSequence() throws {
        try TestLogs.withScratch { dir in
            // Host A in 2018 at serial 500000; host B in 2016 at serial 588352, C later and 311k serials on (no boot counts that far between files); A again with a real hole.
            let a = dir.appendingPathComponent("a.log"), b = dir.appendingPathComponent("b.log")
            let c = dir.appendingPathComponent("c.log"), d = dir.appendingPathComponent("d.log")
            try TestLogs.write(host(seconds: 1_515_542_400, serial: 500_000, count: 40), to: a)
            try TestLogs.write(host(seconds: 1_451_779_200, serial: 588_352, count: 40), to: b)
            try TestLogs.write(host(seconds: 1_515_600_000, serial: 900_000, count: 40), to: c)
            // Within one file, a hole is still a hole.
            try TestLogs.write(host(seconds: 1_515_700_000, serial: 900_040, count: 40, hole: 3), to: d)
            for f in [a, b, c, d] { try TestLogs.age(f) }
            let summary = try TestLogs.ingest([a, b, c, d], db: dir.appendingPathComponent("k.sqlite"))
            #expect(summary.serialGaps.map(\.missing) == [3], "\(summary.serialGaps)")
            #expect(summary.serialGaps.allSatisfy { $0.before.seconds >= $0.after.seconds })
            let warning = try #require(summary.mixedHostsWarning)
            #expect(warning.contains("b.log") && warning.contains("name_format = hostname"), "\(warning)")
            let text = IngestReport.text(summary, database: "k.sqlite", verbose: false)
            #expect(text.components(separatedBy: "several hosts").count == 2, "warned once: \(text)")
            #expect(!text.contains("events missing") || text.contains("3 events missing"), "\(text)")
        }
    }

    @Test("rotated files of one host continue one sequence, without a warning, and an older file read late warns nothing")
    func rotatedFilesOfOneHost() throws {
        try TestLogs.withScratch { dir in
            let old = dir.appendingPathComponent("audit.log.1"), new = dir.appendingPathComponent("audit.log")
            try TestLogs.write(host(seconds: 1_700_000_000, serial: 100, count: 40), to: old)
            try TestLogs.write(host(seconds: 1_700_000_040, serial: 145, count: 40), to: new)  // 5 lost at the rotation
            for f in [old, new] { try TestLogs.age(f) }
            let summary = try TestLogs.ingest([dir.path], db: dir.appendingPathComponent("k.sqlite"))
            #expect(summary.serialGaps.map(\.missing) == [5], "\(summary.serialGaps)")
            #expect(summary.mixedHostsWarning == nil)
        }
        try TestLogs.withScratch { dir in
            let old = dir.appendingPathComponent("old.log"), new = dir.appendingPathComponent("new.log")
            try TestLogs.write(host(seconds: 1_700_000_000, serial: 100, count: 40), to: old)
            try TestLogs.write(host(seconds: 1_700_000_040, serial: 140, count: 40), to: new)
            for f in [old, new] { try TestLogs.age(f) }
            let summary = try TestLogs.ingest([new, old], db: dir.appendingPathComponent("k.sqlite"))
            #expect(summary.serialGaps.isEmpty, "\(summary.serialGaps)")
            #expect(summary.mixedHostsWarning == nil)
        }
    }
}
