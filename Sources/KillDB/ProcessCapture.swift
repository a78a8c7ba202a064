import AuditDecoding
import Foundation
import ProcessContext

/// The plugin's reading of a sender's parents and cgroups from /proc as each signal event
/// arrives: best effort (a `kill` that already exited is missing, its parent is read
/// instead), and marked as read then, not at the event. A busy sender's chain is read once
/// and reused while its start time proves it is the same process.
struct ProcessCapture {
    var reader: ProcReader
    private var recent: [Int64: (at: Double, processes: EventProcesses)] = [:]
    static let reuseFor = 2.0

    init(reader: ProcReader = ProcReader()) { self.reader = reader }

    mutating func capture(_ event: SignalEvent) -> EventProcesses? {
        guard event.call != nil, let pid = event.sender.pid else { return nil }
        let now = Date().timeIntervalSince1970
        let targets = event.targets.map(\.pid)
        if let hit = recent[pid], now - hit.at < Self.reuseFor, hit.processes.senderRead,
           let first = hit.processes.chain.first, first.ppid == event.sender.ppid,
           reader.process(pid, now: now)?.startTicks == first.startTicks {
            var p = hit.processes
            p.targets = reader.capture(sender: nil, ppid: nil, targets: targets, time: event.id.time, now: now).targets
            return p
        }
        let p = reader.capture(sender: pid, ppid: event.sender.ppid, targets: targets, time: event.id.time, now: now)
        if recent.count > 4096 { recent.removeAll(keepingCapacity: true) }
        recent[pid] = (now, p)
        return p.isEmpty ? nil : p
    }
}
