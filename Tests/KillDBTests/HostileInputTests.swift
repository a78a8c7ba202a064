import Foundation
import GRDB
import KillDB
import Output
import Testing

/// Damaged logs and attacker-chosen names: a bad line costs that line and nothing else, and
/// a process name is stored as the bytes the kernel logged and printed harmlessly.
@Suite("hostile input: damaged logs and attacker-chosen names")
struct HostileInputTests {
    /// Lines that are not audit records, each followed by a newline in the log.
    static let garbage: [(String, [UInt8])] = [
        ("binary junk", [0x00, 0x01, 0x02, 0xff, 0xfe, 0x7f, 0x1b, 0x5b, 0x32, 0x4a, 0x80, 0x00, 0x9d, 0xc0, 0xaf]),
        ("a 200 KB line without spaces", [UInt8](repeating: 0x41, count: 200 * 1024)),
        ("a truncated header", Array("type=SYSCALL msg=audit(123".utf8)),
        ("invalid UTF-8", [0xc3, 0x28, 0x20, 0xe2, 0x82, 0x20, 0xf0, 0x28, 0x8c, 0x28, 0x20, 0xed, 0xa0, 0x80, 0x20, 0xff]),
        ("invalid UTF-8 after type=", Array("type=SYSCALL msg=\u{1}".utf8) + [0xff, 0xfe, 0xc0, 0x80]),
        ("a header with no time stamp", Array("type=SYSCALL arch=c000003e syscall=62 a0=1 a1=9".utf8)),
        ("a line cut in the middle of audit(", Array("type=OBJ_PID msg=audit(1700003000.000:".utf8)),
    ]

    @Test("garbage lines are counted as skipped and the signal events around them are all stored")
    func garbageIsSkippedNotFatal() throws {
        try TestLogs.withScratch { dir in
            // One kill before each bad line and one after the last.
            var bytes: [UInt8] = []
            var expectedTargets: [Int64] = []
            for (i, (_, junk)) in Self.garbage.enumerated() {
                let target = 9800 + i
                bytes += Array(AuditLine.killEvent("1700003000.\(String(format: "%03d", i)):\(3800 + i)", target: target).utf8)
                expectedTargets.append(Int64(target))
                bytes += junk + [0x0a]
            }
            bytes += Array(AuditLine.killEvent("1700003001.000:3899", target: 9899).utf8)
            expectedTargets.append(9899)
            let mixed = dir.appendingPathComponent("mixed.log")
            try TestLogs.write(bytes, to: mixed)

            // Files with nothing in them are not damage, and must not stop the run either.
            let empty = dir.appendingPathComponent("empty.log")
            try TestLogs.write([], to: empty)
            let newlines = dir.appendingPathComponent("newlines.log")
            try TestLogs.write([UInt8](repeating: 0x0a, count: 50), to: newlines)
            // A file that is all junk, between two good ones.
            let junkOnly = dir.appendingPathComponent("junk.log")
            try TestLogs.write(Self.garbage[0].1 + [0x0a] + Self.garbage[3].1 + [0x0a], to: junkOnly)
            let after = dir.appendingPathComponent("after.log")
            try TestLogs.write(AuditLine.killEvent("1700003010.000:3900", target: 9900), to: after)
            expectedTargets.append(9900)
            for f in [mixed, empty, newlines, junkOnly, after] { try TestLogs.age(f) }

            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([empty, mixed, newlines, junkOnly, after], db: db)
            #expect(summary.skippedTotal == Self.garbage.count + 2)
            #expect(summary.skipped.count == Self.garbage.count + 2)
            #expect(summary.skipped.filter { $0.path == mixed.path }.count == Self.garbage.count)
            #expect(summary.unparsableEvents == 0)
            #expect(summary.totals.signalEvents == expectedTargets.count)
            #expect(summary.totals.newEvents == expectedTargets.count)
            let rows = try TestLogs.signals(db)
            #expect(rows.map { $0["target_pid"] as Int64? } == expectedTargets)
            #expect(rows.allSatisfy { $0["sender_cmdline"] as String? != nil })
            // Everything was read, junk included: the next run does not trip over it again.
            for f in summary.files {
                #expect(f.endOffset == (try TestLogs.size(URL(fileURLWithPath: f.path))), "\(f.path) read to the end")
            }
            let again = try TestLogs.ingest([empty, mixed, newlines, junkOnly, after], db: db)
            #expect(again.skippedTotal == 0)
            #expect(again.totals.newEvents == 0)
        }
    }

    @Test("a SYSCALL record whose syscall number does not fit 64 bits is no signal event, not a crash")
    func hugeSyscallNumber() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let kill = AuditLine.killEvent("1700003000.000:3800", target: 9800)
            let huge = kill.replacingOccurrences(of: "syscall=62 ", with: "syscall=9999999999999999999 ")
                .replacingOccurrences(of: ":3800)", with: ":3801)")
            try TestLogs.write(huge + kill, to: log)
            try TestLogs.age(log)
            let summary = try TestLogs.ingest([log], db: dir.appendingPathComponent("killdb.sqlite"))
            #expect(summary.totals.signalEvents == 1)
            #expect(summary.totals.newEvents == 1)
        }
    }

    @Test("a line longer than 128 KiB is skipped as 'line too long', wherever it falls in the file")
    func overlongLineReason() throws {
        try TestLogs.withScratch { dir in
            // LineReader.maxLineLength is 128 KiB; auditd's records are under 9 KiB plus enrichment.
            let long = [UInt8](repeating: 0x41, count: 200 * 1024)
            let good = Array(AuditLine.killEvent("1700003200.000:3960", target: 9960).utf8)
            let small = dir.appendingPathComponent("small.log")       // the whole line fits in one read
            try TestLogs.write(good + long + [0x0a] + good, to: small)
            let large = dir.appendingPathComponent("large.log")       // the line straddles a 1 MiB read
            // 150 KiB of the line before the 1 MiB boundary, the rest after it.
            try TestLogs.write([UInt8](repeating: 0x0a, count: (1 << 20) - 150 * 1024) + long + [0x0a] + good, to: large)
            for f in [small, large] {
                try TestLogs.age(f)
                let summary = try TestLogs.ingest([f], db: dir.appendingPathComponent("\(f.lastPathComponent).sqlite"))
                #expect(summary.skippedTotal == 1, "\(f.lastPathComponent)")
                #expect(summary.skipped.map(\.reason) == ["line too long"], "\(f.lastPathComponent)")
                #expect(summary.totals.newEvents == 1, "\(f.lastPathComponent)")
            }
        }
    }

    @Test("an offset is reported for each skipped line")
    func skippedLinesAreLocated() throws {
        try TestLogs.withScratch { dir in
            let log = dir.appendingPathComponent("audit.log")
            let good = AuditLine.killEvent("1700003100.000:3950", target: 9950)
            let bad = "type=SYSCALL msg=audit(123\n"
            try TestLogs.write(good + bad + good, to: log)
            try TestLogs.age(log)
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([log], db: db)
            #expect(summary.skippedTotal == 1)
            #expect(summary.skipped.first?.offset == Int64(good.utf8.count))
            #expect(summary.skipped.first?.path == log.path)
            #expect(try TestLogs.eventCount(db) == 1)
        }
    }

    @Test("a process name with escape sequences and a newline is stored byte for byte")
    func hostileCommStoredExactly() throws {
        try TestLogs.withScratch { dir in
            let db = dir.appendingPathComponent("killdb.sqlite")
            let summary = try TestLogs.ingest([TestLogs.fixture("hostile-comm.log")], db: db)
            #expect(summary.totals.newEvents == 1)
            let rows = try TestLogs.query(db, """
                SELECT CAST(sender_comm AS BLOB) AS comm, CAST(target_comm AS BLOB) AS tcomm,
                       CAST(sender_cmdline AS BLOB) AS cmdline, sender_exe, target_pid FROM signals
                """)
            try #require(rows.count == 1)
            #expect(rows[0]["comm"] as Data? == Data("evil\u{1b}[2J\nname".utf8))
            #expect(rows[0]["tcomm"] as Data? == Data("\u{1b}]0;pwned\u{07}x".utf8))
            #expect(rows[0]["cmdline"] as Data? == Data(Array("evil\u{1b}[2J\nname -9 ".utf8) + [0xff, 0xfe] + Array("9001".utf8)))
            #expect(rows[0]["sender_exe"] as String? == "/tmp/evil")
            #expect(rows[0]["target_pid"] as Int64? == 9001)
        }
    }

    @Test("SafeText.escape shows control bytes, invalid UTF-8 and direction overrides visibly")
    func safeTextEscapes() {
        #expect(SafeText.escape(Array("evil\u{1b}[2Jname".utf8)) == "evil\\e[2Jname")
        #expect(SafeText.escape(Array("two\nlines".utf8)) == "two\\nlines")
        #expect(SafeText.escape([0x61, 0xff, 0x62]) == "a\\xffb")
        #expect(SafeText.escape(Array("abc\u{202E}txt.exe".utf8)) == "abc\\u{202E}txt.exe")
        #expect(SafeText.escape(Array("tab\there\r".utf8)) == "tab\\there\\r")
        #expect(SafeText.escape(Array("back\\slash".utf8)) == "back\\\\slash")
        #expect(SafeText.escape([0x07, 0x00, 0x7f]) == "\\x07\\x00\\x7f")
        // C1 control U+009B (a one-character CSI on some terminals).
        #expect(SafeText.escape([0xc2, 0x9b]) == "\\u{9B}")
        // Truncated and overlong UTF-8 sequences are bytes, not characters.
        #expect(SafeText.escape([0xe2, 0x82]) == "\\xe2\\x82")
        #expect(SafeText.escape([0xc0, 0xaf]) == "\\xc0\\xaf")
    }

    /// Unicode's Default_Ignorable_Code_Point set is invisible by definition, and the Arabic
    /// letter mark reorders text: a name made of them looks like another name, or like none.
    @Test("SafeText escapes every default-ignorable and direction-changing code point",
          arguments: [0x061C, 0x3164, 0x115F, 0x1160, 0xFFA0, 0xFEFF, 0x034F, 0x180E, 0x17B4, 0x2065,
                      0xFE0F, 0x1BCA0, 0x1D173, 0xE0001, 0xE0041, 0xE007F, 0xE0100, 0xE0FFF])
    func safeTextEscapesIgnorables(_ value: UInt32) throws {
        let scalar = try #require(Unicode.Scalar(value))
        let bytes = Array("a\(Character(scalar))b".utf8)
        let expected = "a\\u{" + String(value, radix: 16, uppercase: true) + "}b"
        #expect(SafeText.escape(bytes) == expected)
        // JSON escapes them too (\\uXXXX, a surrogate pair beyond the BMP), and stays valid JSON.
        let json = JSON.string(bytes)
        #expect(!json.unicodeScalars.contains(scalar) && json.hasPrefix("\"a\\u"), "\(json)")
        let decoded = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed) as? String
        #expect(decoded == "a\(Character(scalar))b")
    }

    @Test("SafeText.escape keeps ordinary text and UTF-8 as it is")
    func safeTextKeepsOrdinaryText() {
        #expect(SafeText.escape(Array("café".utf8)) == "café")
        #expect(SafeText.escape(Array("/usr/bin/kill -9 1234".utf8)) == "/usr/bin/kill -9 1234")
        #expect(SafeText.escape(Array("Ωmega 日本語 🙂".utf8)) == "Ωmega 日本語 🙂")
        #expect(SafeText.line("café\u{1b}") == "café\\e")
    }
}
