import Foundation
import GRDB
import KillDB
import Testing

/// Damaged logs, made by mutating real records at random (seeded, so a failure replays):
/// the ingest never crashes or stops, and every undamaged signal event is still stored.
@Suite("fuzzing: mutated records never crash the ingest")
struct FuzzTests {
    static let pristine = """
        type=SYSCALL msg=audit(1795576841.481:5): arch=c000003e syscall=62 success=yes exit=0 a0=a69 a1=9 a2=0 a3=7f4c8bfadac0 items=0 ppid=2644 pid=2666 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="sh" exe="/usr/bin/dash" key="killdb"
        type=OBJ_PID msg=audit(1795576841.481:5): opid=2665 oauid=-1 ouid=0 oses=-1 ocomm="sleep"
        type=PROCTITLE msg=audit(1795576841.481:5): proctitle=7368002D63006B696C6C202D392032363635
        node=web1 type=SYSCALL msg=audit(1795576842.100:6): arch=c000003e syscall=234 success=no exit=-1 a0=a69 a1=a69 a2=9 a3=0 items=0 ppid=1 pid=77 auid=1000 uid=1000 gid=0 euid=1000 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm=6576696C1B5B324A exe="/tmp/x" key=(null)\u{1d}ARCH=x86_64 SYSCALL=tgkill AUID="alice" UID="alice"
        node=web1 type=OBJ_PID msg=audit(1795576842.100:6): opid=2665 oauid=-1 ouid=0 oses=-1 ocomm="sleep"\u{1d}OAUID="unset" OUID="root"
        type=SYSCALL msg=audit(1795576843.000:7): arch=40000003 syscall=37 success=yes exit=0 a0=ffffffff a1=9 a2=0 a3=0 items=0 ppid=1 pid=78 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm="k32" exe="/tmp/k32" key="killdb"
        type=EXECVE msg=audit(1795576843.500:8): argc=2 a0="ls" a1="-l"
        """

    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E3779B97F4A7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
            z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// One damaged copy of a line: bytes flipped, cut, duplicated, or junk inserted.
    static func mutate(_ line: [UInt8], _ rng: inout SplitMix) -> [UInt8] {
        var b = line
        for _ in 0..<(1 + rng.below(4)) where !b.isEmpty {
            let i = rng.below(b.count)
            switch rng.below(7) {
            case 0: b[i] = UInt8(truncatingIfNeeded: rng.next())
            case 1: b.removeSubrange(i...)
            case 2: b.insert(contentsOf: [0xff, 0x00, 0x1d, 0x1b], at: i)
            case 3: b.insert(contentsOf: Array("=audit(99999999999999999999.999:4294967296)".utf8), at: i)
            case 4: b[i] = [0x3d, 0x20, 0x22, 0x28, 0x29, 0x3a][rng.below(6)]
            case 5: b.insert(contentsOf: b[i...].prefix(40), at: i)
            default: b = Array(b.prefix(i)) + Array(repeating: 0x41, count: rng.below(300)) + Array(b.suffix(from: i))
            }
        }
        return b.filter { $0 != 0x0a }
    }

    @Test("250 mutated records per seed: no crash, no error, every event's clean copy still stored",
          arguments: [1, 2, 3, 4, 5, 6, 7, 8])
    func mutatedRecords(seed: UInt64) throws {
        var rng = SplitMix(state: seed)
        let lines = Self.pristine.split(separator: "\n").map { Array($0.utf8) }
        try TestLogs.withScratch { dir in
            var log: [UInt8] = []
            for _ in 0..<250 {
                let line = lines[rng.below(lines.count)]
                log += Self.mutate(line, &rng) + [0x0a]
            }
            // The pristine events at the end, after all the damage. (A damaged copy with the
            // same event id may be stored first: the id must be there either way.)
            for line in lines { log += line + [0x0a] }
            let path = dir.appendingPathComponent("audit.log").path
            try Data(log).write(to: URL(fileURLWithPath: path))
            let db = dir.appendingPathComponent("k.sqlite").path
            let summary = try Ingest.run(paths: [path], databasePath: db)
            #expect(summary.files.first?.endOffset == Int64(log.count), "the whole file was read")
            let ids = try DatabaseQueue(path: db).read {
                try String.fetchAll($0, sql: "SELECT DISTINCT event_id FROM signals")
            }
            for id in ["1795576841.481:5", "1795576842.100:6", "1795576843.000:7"] {
                #expect(ids.contains(id), "event \(id) lost among damaged records (seed \(seed))")
            }
        }
    }
}
