import AuditDecoding
import AuditLog
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
