import AuditDecoding
import AuditLog
import Testing

/// The pre-filter reads every line of a log but keeps its bookkeeping once per event: what it
/// counts must still be what counting every record would give, whatever the order.
@Suite("line scan: per-event bookkeeping counts as per-record counting would")
struct LineScanTests {
    static func take(_ lines: [String], into filter: inout SignalRecordFilter, file: Int) {
        var offset: Int64 = 0
        for line in lines {
            var bytes = Array(line.utf8)
            if bytes.last == 0x0a { bytes.removeLast() }
            bytes.withUnsafeBufferPointer { filter.take($0, file: file, offset: offset) }
            offset += Int64(bytes.count) + 1
        }
    }

    /// Per node: records and first/last event time, counted record by record.
    static func reference(_ lines: [String]) -> [String: (first: Double, last: Double, records: Int)] {
        var out: [String: (first: Double, last: Double, records: Int)] = [:]
        for line in lines {
            var node = ""
            if line.hasPrefix("node=") { node = String(line.dropFirst(5).prefix { $0 != " " }) }
            let stamp = line.split(separator: "(")[1].split(separator: ")")[0]
            let t = Double(stamp.split(separator: ":")[0])!
            var span = out[node] ?? (t, t, 0)
            span.first = min(span.first, t)
            span.last = max(span.last, t)
            span.records += 1
            out[node] = span
        }
        return out
    }

    @Test("interleaved hosts, events of many records, auditd's records among them")
    func coverageOfInterleavedHosts() {
        var lines: [String] = []
        // Host a's kill, its records split by host b's execve event and an unnamed host's.
        lines.append(AuditLine.killSyscall("1700000000.100:10", target: 70, signal: 9, node: "a"))
        lines.append("node=b type=SYSCALL msg=audit(1700000000.101:500): arch=c000003e syscall=59 success=yes exit=0 items=2 pid=7 comm=\"ls\"\n")
        lines.append(AuditLine.objPID("1700000000.100:10", pid: 70, node: "a"))
        lines.append("node=b type=EXECVE msg=audit(1700000000.101:500): argc=1 a0=\"ls\"\n")
        lines.append("node=b type=PATH msg=audit(1700000000.101:500): item=0 name=\"/bin/ls\"\n")
        lines.append(AuditLine.noise("1700000000.102:11"))
        lines.append(AuditLine.proctitle("1700000000.100:10", argv: ["kill", "-9", "70"], node: "a"))
        // auditd's own record between two records of one event: each record counted once.
        lines.append("node=b type=SYSCALL msg=audit(1700000001.000:501): arch=c000003e syscall=59 success=yes exit=0 pid=8 comm=\"id\"\n")
        lines.append("node=b type=DAEMON_ROTATE msg=audit(1700000001.000:501): op=rotate auid=0 pid=1 res=success\n")
        lines.append("node=b type=PROCTITLE msg=audit(1700000001.000:501): proctitle=6964\n")
        // The same serial on another host is another event.
        lines.append(AuditLine.killSyscall("1700000001.000:501", target: 71, signal: 15, node: "a"))
        lines.append(AuditLine.objPID("1700000001.000:501", pid: 71, node: "a"))
        lines.append(AuditLine.noise("1700000001.500:12"))
        lines.append(AuditLine.noise("1700000001.500:12"))

        var filter = SignalRecordFilter()
        let file = filter.beginFile()
        Self.take(lines, into: &filter, file: file)
        // Read mid-run: the records of the run still being read are counted too.
        let c = filter.coverage[file]
        #expect(c.lines == lines.count)
        #expect(c.records == lines.count)
        #expect(c.signalEvents == 2)
        // a:10, b:500, :11, b:501 (auditd's record shares its stamp), a:501, :12.
        #expect(c.events == 6)
        let expected = Self.reference(lines)
        #expect(Set(c.nodes.keys) == Set(expected.keys))
        for (node, span) in expected {
            #expect(c.nodes[node]?.records == span.records, "node \(node)")
            #expect(abs((c.nodes[node]?.first ?? 0) - span.first) < 1e-6, "node \(node)")
            #expect(abs((c.nodes[node]?.last ?? 0) - span.last) < 1e-6, "node \(node)")
        }
        #expect(abs((c.firstEventTime ?? 0) - 1700000000.1) < 1e-6 && abs((c.lastEventTime ?? 0) - 1700000001.5) < 1e-6)
        filter.finish(complete: true)
        var ids: [EventID] = []
        _ = filter.drain { group in ids.append(group.id); return true }
        #expect(Set(ids) == [EventID(node: "a", seconds: 1700000000, milliseconds: 100, serial: 10),
                             EventID(node: "a", seconds: 1700000001, milliseconds: 0, serial: 501)])
    }

    @Test("the records after an event's non-signal SYSCALL are not held; a reordered kill's still are")
    func noiseIsNotHeld() {
        var filter = SignalRecordFilter()
        let file = filter.beginFile()
        Self.take([
            "type=SYSCALL msg=audit(1700000000.000:1): arch=c000003e syscall=59 success=yes exit=0 pid=7 comm=\"ls\"\n",
            "type=EXECVE msg=audit(1700000000.000:1): argc=1 a0=\"ls\"\n",
            "type=PROCTITLE msg=audit(1700000000.000:1): proctitle=6C73\n",
            // Reordered: the kill's PROCTITLE and OBJ_PID before its SYSCALL.
            AuditLine.proctitle("1700000000.001:2", argv: ["kill", "70"]),
            AuditLine.objPID("1700000000.001:2", pid: 70),
            AuditLine.killSyscall("1700000000.001:2", target: 70, signal: 15),
        ], into: &filter, file: file)
        let held = filter.heldLines()
        #expect(held.count == 3)
        #expect(held.allSatisfy { String(decoding: $0.bytes, as: UTF8.self).contains("(1700000000.001:2)") },
                "none of the execve event's lines")
        filter.finish(complete: true)
        var groups: [SignalRecordGroup] = []
        _ = filter.drain { groups.append($0); return true }
        #expect(groups.count == 1)
        #expect(groups.first?.lines.map(\.kind) == [.proctitle, .objPID, .syscall])
    }

    @Test("a node's first record in a file read from its start still tells a new origin apart")
    func fileStartsPerNode() {
        // File 1 of host a ends at serial 100; file 2 starts far on (another boot): no gap.
        var filter = SignalRecordFilter()
        let f1 = filter.beginFile()
        Self.take((90...100).map { AuditLine.noise("1700000000.000:\($0)").replacingOccurrences(of: "type=", with: "node=a type=") },
                  into: &filter, file: f1)
        let f2 = filter.beginFile()
        Self.take((500_000...500_010).map { AuditLine.noise("1700000010.000:\($0)").replacingOccurrences(of: "type=", with: "node=a type=") },
                  into: &filter, file: f2)
        filter.finish(complete: true)
        let out = filter.drain { _ in true }
        #expect(out.serialGaps.isEmpty, "\(out.serialGaps)")
        #expect(filter.serialCursors["a"]?.serial == 500_010)
    }
}

/// The header of every line is read from its bytes: what it says must not depend on the
/// shortcuts taken for the usual form.
@Suite("record headers")
struct RecordHeaderTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var line: String
        var node: String
        var type: String
        var kind: RecordKind
        var stamp: (Int64, Int32, UInt32)
        var body: String
        var testDescription: String { line }
    }

    static let cases: [Case] = [
        Case(line: "node=web-01 type=SYSCALL msg=audit(1700000000.123:42): arch=c000003e syscall=62",
             node: "web-01", type: "SYSCALL", kind: .syscall, stamp: (1700000000, 123, 42), body: "arch=c000003e syscall=62"),
        Case(line: "audit: type=1300 audit(1700000000.5:7): arch=c000003e",
             node: "", type: "1300", kind: .syscall, stamp: (1700000000, 5, 7), body: "arch=c000003e"),
        Case(line: "type=OBJ_PID msg=audit(1700000000.000:4294967295): opid=1 ocomm=\"x\"\u{1d}OUID=\"root\"",
             node: "", type: "OBJ_PID", kind: .objPID, stamp: (1700000000, 0, 4_294_967_295), body: "opid=1 ocomm=\"x\""),
        Case(line: "node=n  type=DAEMON_START msg=audit(1.000:1):",
             node: "n", type: "DAEMON_START", kind: .daemon, stamp: (1, 0, 1), body: ""),
        Case(line: "type=PROCTITLE  msg=audit(1700000000.001:3): proctitle=6B696C6C",
             node: "", type: "PROCTITLE", kind: .proctitle, stamp: (1700000000, 1, 3), body: "proctitle=6B696C6C"),
    ]

    @Test(arguments: cases)
    func parses(_ c: Case) throws {
        let bytes = Array(c.line.utf8)
        let header = try bytes.withUnsafeBufferPointer { try RecordHeader.parse($0).get() }
        #expect(header.node == c.node)
        #expect(header.typeName == c.type)
        #expect(header.kind == c.kind)
        #expect((header.seconds, header.milliseconds, header.serial) == c.stamp)
        #expect(String(decoding: bytes[header.bodyStart..<header.bodyEnd], as: UTF8.self) == c.body)
    }

    @Test(arguments: [
        ("type=SYSCALL msg=audit(1234567890123.000:1): x=1", LineProblem.badTimestamp),
        ("type=SYSCALL msg=audit(1700000000.1234:1): x=1", .badTimestamp),
        ("type=SYSCALL msg=audit(1700000000.000:4294967296): x=1", .badTimestamp),
        ("type=SYSCALL msg=audit(1700000000.000:99999999999999999999): x=1", .badTimestamp),
        ("type=SYSCALL msg=audit(.000:1): x=1", .badTimestamp),
        ("type=SYSCALL msg=audit(1700000000.000:1 x=1", .badTimestamp),
        ("type= msg=audit(1700000000.000:1): x=1", .notARecord),
        ("node=a", .notARecord),
        ("x type=SYSCALL msg=audit(1700000000.000:1): x=1", .notARecord),
        ("type=SYSCALL msg=1700000000.000:1", .missingTimestamp),
    ])
    func refuses(_ line: String, _ problem: LineProblem) {
        let result = Array(line.utf8).withUnsafeBufferPointer { RecordHeader.parse($0) }
        guard case .failure(let p) = result else {
            Issue.record("parsed: \(line)")
            return
        }
        #expect(p == problem)
    }
}
