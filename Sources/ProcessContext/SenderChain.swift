/// A sender and its parents, and who among them was behind the kill: the first ancestor
/// that is not a tool run by something else (kill, a shell running a `-c` string, sudo,
/// timeout, runc …).
public struct SenderChain: Sendable, Equatable {
    /// The sender first, then its parent, up to PID 1 (as far as the sources go).
    public var processes: [ProcessRecord]

    public init(_ processes: [ProcessRecord]) { self.processes = processes }

    /// True when the sender is a tool run on someone else's behalf.
    public var senderIsTool: Bool { processes.first.map(Self.isTool) ?? false }

    /// The index in `processes` of the one behind the kill: the first ancestor (not the
    /// sender) that is not a tool. nil when the chain has no such ancestor.
    public var behind: Int? {
        guard processes.count > 1 else { return nil }
        for i in 1..<processes.count where !Self.isTool(processes[i]) {
            // PID 1 is behind everything; naming it says nothing.
            return processes[i].pid == 1 ? nil : i
        }
        return nil
    }

    static let tools: Set<String> = [
        "kill", "pkill", "killall", "skill", "timeout", "runc", "crun", "systemctl", "sudo", "doas", "su",
        "xargs", "env", "nohup", "setsid", "nice", "ionice", "flock", "chrt", "taskset", "stdbuf", "watch",
        "runuser", "busybox", "pgrep", "parallel",
    ]
    static let shells: Set<String> = ["bash", "sh", "dash", "zsh", "ksh", "mksh", "ash", "yash", "fish"]

    /// A tool: a known program, or a shell running a command string (`sh -c '…'`). A shell
    /// running a script is the script, and is named; an interactive shell is a person's.
    public static func isTool(_ p: ProcessRecord) -> Bool {
        guard let name = p.programName.map({ String(decoding: $0, as: UTF8.self) }) else { return false }
        if tools.contains(name) { return true }
        if shells.contains(name) { return runsCommandString(p) }
        return false
    }

    public static func isShell(_ p: ProcessRecord) -> Bool {
        p.programName.map { shells.contains(String(decoding: $0, as: UTF8.self)) } ?? false
    }

    static func runsCommandString(_ p: ProcessRecord) -> Bool {
        for arg in p.argv.dropFirst() {
            guard arg.first == UInt8(ascii: "-") else { return false }
            // -c, or bundled options holding c (-ec, -xc).
            if arg.count > 1, arg[1] != UInt8(ascii: "-"), arg.contains(UInt8(ascii: "c")) { return true }
        }
        return false
    }

    /// The script a shell runs: its first argument that is not an option.
    public static func script(_ p: ProcessRecord) -> [UInt8]? {
        guard isShell(p), !runsCommandString(p) else { return nil }
        return p.argv.dropFirst().first { $0.first != UInt8(ascii: "-") }
    }
}
