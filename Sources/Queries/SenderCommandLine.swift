/// Whether a logged command line can be the sender's own. The kernel caches PROCTITLE from
/// a task's first audited record and keeps it across execve (linux-audit/audit-kernel#170),
/// so a process that was audited before it exec'd shows the command line of what it was.
public enum CommandLineFit {
    /// Names that are usually symlinks to some other program (/sbin/init → systemd, Debian's
    /// alternatives): a command line run under one can belong to any executable.
    static let genericNames: Set<[UInt8]> = Set(["init", "sh", "awk", "vi", "view", "editor", "pager", "cc", "c++",
                                                  "python", "java", "nc", "netcat", "mt", "rmt", "x-terminal-emulator"]
                                                 .map { Array($0.utf8) })

    /// True unless the first argument matches neither the comm nor the executable's name.
    /// Lenient on purpose: a prefix either way allows for symlinks to versioned interpreters
    /// (python3 → python3.11), comm's 15 bytes, login shells (`-bash`) and titles that
    /// processes set (`sshd: alice`); `sh` → dash matches through comm.
    public static func fits(_ cmdline: [UInt8], comm: [UInt8]?, exe: [UInt8]?) -> Bool {
        let argv0 = cmdline.prefix { $0 != 0x20 }
        var first = Array(argv0.split(separator: 0x2f, omittingEmptySubsequences: false).last ?? [])
        if first.first == 0x2d { first.removeFirst() }       // -bash
        if first.last == 0x3a { first.removeLast() }         // sshd:
        let exeName = exe.map { Array($0.split(separator: 0x2f, omittingEmptySubsequences: false).last ?? []) }
        let names = [comm, exeName].compactMap { $0 }.filter { !$0.isEmpty }
        guard !first.isEmpty, !names.isEmpty, !genericNames.contains(first) else { return true }
        return names.contains { n in first.starts(with: n) || n.starts(with: first) }
    }
}

extension SignalRow {
    /// False when the logged command line cannot belong to the sender's executable: it was
    /// recorded earlier in the process's life, before an execve.
    public var commandLineFitsExecutable: Bool {
        senderCmdline.map { CommandLineFit.fits($0, comm: senderComm, exe: senderExe) } ?? true
    }
}
