import Foundation
import ProcessContext
import Queries

/// The processes behind a kill, in words: who was behind the sender, the rest of its
/// chain in one line, and where sender and target lived (unit, container, pod).
enum ProcessContextText {
    /// `behind it: /bin/bash /opt/ops/cleanup.sh (pid 31183) ← /bin/bash /opt/ops/nightly.sh (pid 31170) ← cron (pid 900), cron.service`
    /// when the sender is a tool; `run by: …` (its parents) when it is not. nil when no
    /// parent was read.
    static func behind(_ c: EventContext, eventTime: Double, _ s: TextStyle) -> (label: String, text: String)? {
        let chain = c.chain
        let p = chain.processes
        let start: Int
        let label: String
        if chain.senderIsTool {
            guard let b = chain.behind else { return nil }
            start = b
            label = "behind it"
        } else {
            guard p.count > 1, p[1].pid != 1 else { return nil }
            start = 1
            label = "run by"
        }
        // PID 1 is everybody's ancestor: the unit says more. Within a unit the chain is
        // the unit's own story (a script run by cron.service's cron); it ends where the
        // unit does.
        let rest = p[start...].prefix { $0.pid != 1 }
        let unit = rest.first?.place?.unit
        var shown = unit.map { u in Array(rest.prefix { $0.place?.unit == u }) } ?? Array(rest)
        var cut = false
        let most = unit == nil ? 4 : 6
        if shown.count > most { shown = Array(shown.prefix(most)); cut = true }
        var text = shown.enumerated().map { process($0.element, s, width: $0.offset == 0 ? 80 : 48) }.joined(separator: " ← ")
        if cut { text += " ← …" }
        if let unit { text += ", " + s.value(unit) } else if let last = shown.last?.place, let w = where_(last, s) { text += ", " + w }
        if shown.contains(where: { $0.source == .auditExecve }) { text += " (from the audit log's execve records)" }
        // Marked: /proc is read a moment after the kill, not at it.
        if let read = shown.first?.readAt, shown.first?.source == .proc {
            let late = max(0, read - eventTime)
            text += late < 10 ? " (read from /proc \(late < 0.01 ? "<0.01" : String(format: "%.2f", late)) s after the kill)"
                              : " (read from /proc \(Int(late)) s after the kill)"
        }
        return (label, text)
    }

    /// `/bin/bash /opt/ops/cleanup.sh (pid 31183)`: the command line, cut, escaped.
    static func process(_ p: ProcessRecord, _ s: TextStyle, width: Int = 80) -> String {
        var words: [UInt8] = []
        if let script = SenderChain.script(p) {
            // A script is known by its path's end: cut at the front.
            let shell = p.argv.first ?? p.exe ?? []
            var path = script
            if shell.count + 1 + path.count > width { path = Array("…".utf8) + path.suffix(max(16, width - shell.count - 2)) }
            return s.value(shell + [0x20] + path) + " (pid \(p.pid))"
        } else if !p.argv.isEmpty {
            words = Array(p.argv.joined(separator: [0x20]))
        } else {
            words = p.exe ?? p.comm ?? Array("?".utf8)
        }
        if words.count > width { words = Array(words.prefix(width - 1)) + Array("…".utf8) }
        return s.value(words) + " (pid \(p.pid))"
    }

    /// `cron.service`, `pod shop/cart-7d9 (container java)`, `docker container 4f3c2b1a0e9d`.
    static func where_(_ place: ProcessPlace, _ st: TextStyle) -> String? {
        if let pod = place.pod {
            var s = "pod "
            if let ns = pod.namespace, let name = pod.name {
                s += st.value(ns + Array("/".utf8) + name)
            } else {
                s += pod.uid
            }
            if let c = pod.containerName { s += ", container " + st.value(c) }
            if let c = place.container { s += " (\(c.runtime.rawValue) \(c.shortID))" }
            return s
        }
        if let c = place.container {
            return "\(c.runtime == .unknown ? "" : c.runtime.rawValue + " ")container \(c.shortID)"
        }
        if let u = place.unit { return st.value(u) }
        return nil
    }

    /// A signal row's fields: where sender and target lived, and the chain behind the
    /// sender as one sentence (`behind it: …`, or `run by: …` when the sender was no tool).
    static func fields(_ c: EventContext, eventTime: Double, _ s: TextStyle) -> [(String, String)] {
        var out: [(String, String)] = []
        if let place = c.senderPlace, let w = where_(place, s) {
            out.append(("sender in", w + (c.senderPlaceIsParents ? " (its parent's)" : "")))
        }
        if let place = c.target?.place, let w = where_(place, s) { out.append(("target in", w)) }
        if let b = behind(c, eventTime: eventTime, s) { out.append(("chain", "\(b.label): \(b.text)")) }
        return out
    }

    /// What a tracer's record of a kill says of places and of who was behind it, for its
    /// cause's sentence: the target's pod or unit, cgroup.kill's writer's unit, the pod or
    /// unit of the cgroup written (or of the OOM's memory cgroup), and who was behind the
    /// kill of a namespace's init.
    static func places(_ kill: Kill, _ t: TracedSignalRow, _ s: TextStyle) -> TracedSignalWords.Places {
        var p = TracedSignalWords.Places()
        let targetPlace = kill.processes?.target?.place
        if let tp = targetPlace {
            p.target = where_(tp, s)
            p.inContainer = tp.container != nil
        }
        if t.cause == "cgroup-kill", let c = kill.processes, let sp = c.senderPlace, let w = where_(sp, s) {
            p.sender = w + (c.senderPlaceIsParents ? " (its parent's)" : "")
        }
        if t.cause == "cgroup-kill" || t.cause == "oom", let d = t.causeDetail {
            var place = ProcessPlace(path: d)
            // The target's pod, read with kubelet's directories, names the same UID's pod.
            if let pod = place.pod, let named = targetPlace?.pod, named.uid == pod.uid {
                place.pod?.namespace = named.namespace
                place.pod?.name = named.name
            }
            place.container = nil
            place.pod?.containerName = nil
            p.causeCgroup = where_(place, s)
        }
        if let i = kill.initKill, let c = kill.initKillProcesses, let b = behind(c, eventTime: i.eventTime, s) {
            p.initBehind = "\(b.label): \(b.text)"
        }
        return p
    }

    /// `--format json`: the chain of causes of a tracer's record as data, the kill itself
    /// first: `{"step":"pidns-teardown",…}`, then the init's kill, then who was behind it
    /// (`"step":"behind"`, with its index in that kill's `sender_chain`).
    static func causeChain(_ kill: Kill, _ t: TracedSignalRow) -> String {
        func bytes(_ b: [UInt8]?) -> String { b.map(JSON.string) ?? "null" }
        func str(_ s: String?) -> String { s.map { JSON.string(Array($0.utf8)) } ?? "null" }
        func placeMembers(_ p: ProcessPlace?) -> [(String, String)] {
            [("unit", bytes(p?.unit)), ("container", str(p?.container?.id)),
             ("pod", p?.pod.map { pod in
                 if let ns = pod.namespace, let n = pod.name { return JSON.string(ns + Array("/".utf8) + n) }
                 return str(pod.uid)
             } ?? "null")]
        }
        var steps: [String] = []
        var first: [(String, String)] = [("step", str(t.cause)), ("signal", str(t.signalName)),
                                         ("target_pid", String(t.targetPid)), ("sender_pid", String(t.senderPid)),
                                         ("syscall", str(t.syscall)), ("cgroup", bytes(t.causeDetail))]
        first += placeMembers(kill.processes?.target?.place).map { ("target_" + $0.0, $0.1) }
        if t.cause == "cgroup-kill" || t.cause == "oom" {
            first += placeMembers(t.causeDetail.map { ProcessPlace(path: $0) }).map { ("cgroup_" + $0.0, $0.1) }
        }
        first += placeMembers(kill.processes?.senderPlace).map { ("sender_" + $0.0, $0.1) }
        steps.append(JSON.object(first))
        var behindOf = kill.processes
        if let i = kill.initKill {
            steps.append(JSON.object([("step", str(i.cause)), ("signal", str(i.signalName)), ("target_pid", String(i.targetPid)),
                                      ("sender_pid", String(i.senderPid)), ("syscall", str(i.syscall))]
                                     + placeMembers(kill.initKillProcesses?.senderPlace).map { ("sender_" + $0.0, $0.1) }))
            behindOf = kill.initKillProcesses
        }
        if t.cause != "pidns-teardown" || kill.initKill != nil, let c = behindOf, let b = c.chain.behind {
            let p = c.chain.processes[b]
            steps.append(JSON.object([("step", str("behind")), ("pid", String(p.pid)), ("index", String(b)),
                                      ("exe", bytes(p.exe)), ("argv", "[" + p.argv.map(JSON.string).joined(separator: ",") + "]")]
                                     + placeMembers(p.place)))
        }
        return "[" + steps.joined(separator: ",") + "]"
    }

    /// `--format json`: the chain as data, the sender first.
    static func json(_ c: EventContext) -> [(String, String)] {
        func bytes(_ b: [UInt8]?) -> String { b.map(JSON.string) ?? "null" }
        func str(_ s: String?) -> String { s.map { JSON.string(Array($0.utf8)) } ?? "null" }
        func place(_ p: ProcessPlace?) -> [(String, String)] {
            [("unit", bytes(p?.unit)), ("slice", bytes(p?.slice)), ("container", str(p?.container?.id)),
             ("container_runtime", str(p?.container?.runtime.rawValue)), ("pod_uid", str(p?.pod?.uid)),
             ("pod_namespace", bytes(p?.pod?.namespace)), ("pod_name", bytes(p?.pod?.name)),
             ("pod_container", bytes(p?.pod?.containerName)), ("cgroup", bytes(p?.cgroup))]
        }
        func process(_ p: ProcessRecord) -> String {
            JSON.object([
                ("pid", String(p.pid)), ("start_time", p.startTime.map { JSON.value(.real($0)) } ?? "null"),
                ("ppid", p.ppid.map(String.init) ?? "null"), ("comm", bytes(p.comm)), ("exe", bytes(p.exe)),
                ("argv", "[" + p.argv.map(JSON.string).joined(separator: ",") + "]"),
            ] + place(p.place) + [("source", str(p.source.rawValue)), ("read_at", JSON.value(.real(p.readAt)))])
        }
        return [
            ("sender_chain", "[" + c.chain.processes.map(process).joined(separator: ",") + "]"),
            ("sender_read", c.senderRead ? "true" : "false"),
            ("behind_index", c.chain.behind.map(String.init) ?? "null"),
            ("target_process", c.target.map(process) ?? "null"),
        ]
    }
}
