import Foundation
import Output
#if canImport(Glibc)
import Glibc
#endif

/// What stdout is, found once before anything is printed: a pager replaces stdout with a pipe,
/// and the renderers must still know the terminal's width and whether it takes colour.
func captureTerminal(environment: [String: String] = ProcessInfo.processInfo.environment) {
    Terminal.isTerminal = isatty(STDOUT_FILENO) == 1
    guard Terminal.isTerminal else {
        Terminal.columns = nil
        Terminal.colourful = false
        return
    }
    var ws = winsize()
    Terminal.columns = ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &ws) == 0 && ws.ws_col > 0 ? Int(ws.ws_col) : 80
    let noColour = !(environment["NO_COLOR"] ?? "").isEmpty
    Terminal.colourful = !noColour && environment["TERM"] != "dumb"
}

/// Long output through a pager, as git and journalctl do: only when stdout is a terminal,
/// with $KILLDB_PAGER, else $PAGER, else `less -FRX` (quit if it fits one screen, keep
/// colour, leave the text on the screen). An empty pager or `cat` means none.
enum Pager {
    nonisolated(unsafe) private static var child: pid_t = 0

    /// Sends the rest of stdout to the pager, unless `disabled` or stdout is no terminal.
    static func start(disabled: Bool, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard !disabled, child == 0, isatty(STDOUT_FILENO) == 1, environment["TERM"] != "dumb" else { return }
        let command = environment["KILLDB_PAGER"] ?? environment["PAGER"] ?? "less -FRX"
        let trimmed = command.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed != "cat" else { return }

        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], STDIN_FILENO)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var env = environment
        // less's own defaults when the user named plain `less`, as git sets them.
        if env["LESS"] == nil { env["LESS"] = "FRX" }
        if env["LV"] == nil { env["LV"] = "-c" }
        let argv = ["/bin/sh", "-c", trimmed]
        var cArgs = argv.map { strdup($0) } + [nil]
        var cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgs + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/bin/sh", &actions, nil, &cArgs, &cEnv) == 0 else {
            close(fds[0]); close(fds[1])
            return
        }
        close(fds[0])
        fflush(nil)
        dup2(fds[1], STDOUT_FILENO)
        close(fds[1])
        child = pid
        // Every way out (return, exit(), the documented exit codes) waits for the pager, so
        // the shell's prompt does not come back under it.
        atexit { Pager.finish() }
    }

    /// Closes the pager's input and waits for the user to leave it.
    static func finish() {
        guard child != 0 else { return }
        fflush(nil)
        close(STDOUT_FILENO)
        var status: Int32 = 0
        while waitpid(child, &status, 0) == -1 && errno == EINTR {}
        child = 0
    }
}
