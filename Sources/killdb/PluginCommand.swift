import ArgumentParser
import Foundation
import KillDB
#if canImport(Glibc)
import Glibc
#endif

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin",
        abstract: "Store signals as auditd hands them over (run by auditd as a plugin).",
        discussion: """
            Reads audit records from standard input in auditd's plugin format (`format = \
            string`: one record a line, each event ended by an EOE record) and stores signal \
            events within a fraction of a second, so a burst of events that rotates every log \
            away before the next `killdb ingest` loses nothing.

            auditd starts it from a file in /etc/audit/plugins.d (killdb ships \
            scripts/plugin/killdb.conf). auditd allows two arguments: give the database as \
            `--db=PATH`, one word. auditd passes no environment, so KILLDB_DB does not apply.

            Input is drained at once into PATH.spool, a write-ahead log synced to disk before \
            any record is acted on, so a kill -9 or a reboot loses nothing read. Records are \
            stored from memory, or from the spool when memory is full or the database was \
            unavailable (locked longer than the busy timeout, or failing), and at the next \
            start; the spool is emptied once all of it is stored. \
            The spool is bounded (--spool-limit, 256 MiB unless given): when the database \
            stays unavailable that long, the plugin stops reading its input and says so \
            once; nothing is dropped by killdb, auditd's own queue (q_depth) fills and \
            auditd's overflow_action (auditd.conf) decides what becomes of new events. \
            Reading resumes once the spool is stored. \
            Storing an event twice adds nothing, so `killdb ingest` of the same logs stays \
            safe, alongside or later. The plugin never takes the ingest lock.

            SIGTERM or end of input: commit and exit 0. SIGHUP: commit and open the database \
            again. Messages go to syslog (daemon facility) and standard error.
            """
    )

    @OptionGroup var database: DatabaseOption

    @Option(help: ArgumentHelp("Seconds a transaction waits for another writer before lines go to the spool.",
                               valueName: "seconds"))
    var busyTimeout: Double = 3

    @Option(help: ArgumentHelp("Where kubelet's pod log directories are (pods/, containers/), to name a pod from its cgroup.",
                               valueName: "dir"))
    var podLogs = "/var/log"

    @Option(help: ArgumentHelp("Largest size of the spool, in MiB, before input is no longer read (auditd's queue and overflow_action take over).",
                               valueName: "MiB"))
    var spoolLimit = 256

    @Flag(help: "Do not read senders' parents and cgroups from /proc as their events arrive.")
    var noProcessCapture = false

    func validate() throws {
        guard busyTimeout >= 0 else { throw ValidationError("--busy-timeout must be zero or more seconds") }
        guard spoolLimit >= 1 else { throw ValidationError("--spool-limit must be at least 1 (MiB)") }
    }

    func run() throws {
        let control = LiveIngestControl()
        PluginSignals.install(control)
        openlog(nil, LOG_PID, LOG_DAEMON)
        var options = LiveIngestOptions()
        options.busyTimeout = busyTimeout
        options.podLogRoot = podLogs
        options.spoolLimit = Int64(spoolLimit) << 20
        options.captureProcesses = !noProcessCapture
        options.log = { error, message in PluginSignals.log(error: error, message) }
        let path = database.path
        PluginSignals.log(error: false, "started, database \(path)")
        let status = try LiveIngest.run(input: STDIN_FILENO, databasePath: path, options: options, control: control)
        PluginSignals.log(error: false, "stopped: \(status.linesRead) lines, \(status.newEvents) new signal events"
            + (status.spoolBytes > 0 ? ", \(status.spoolBytes) bytes left in the spool" : ""))
    }
}

/// SIGTERM and SIGINT stop the plugin, SIGHUP reloads it (through SignalPipe); and its log.
enum PluginSignals {
    static func install(_ control: LiveIngestControl) {
        signal(SIGPIPE, SIG_IGN)
        SignalPipe.install([SIGTERM, SIGINT, SIGHUP]) { sig in
            if sig == SIGHUP { control.reload() } else { control.stop() }
        }
    }

    static func log(error: Bool, _ message: String) {
        message.withCString { text in
            withVaList([text]) { vsyslog(error ? LOG_ERR : LOG_INFO, "%s", $0) }
        }
        FileHandle.standardError.write(Data("killdb plugin: \(message)\n".utf8))
    }
}
