import ArgumentParser
import AuditRules
import Foundation
import KillDB

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules",
        abstract: "Print, install, remove or check killdb's audit rules.",
        discussion: """
            The kernel logs signals only when audit rules ask for them. killdb's rules cover \
            every signal-sending syscall (kill, tkill, tgkill, rt_sigqueueinfo, \
            rt_tgsigqueueinfo, pidfd_send_signal) for 64- and 32-bit processes, filtered to \
            the chosen signals (SIGKILL by default) on the argument that holds the signal.

            `install` writes /etc/audit/rules.d/killdb.rules (loaded at boot by augenrules) \
            and loads those rules now, replacing only rules with killdb's key: the operator's \
            own rules stay. `remove` deletes the file and unloads the rules with the key. \
            `status` compares the loaded rules with the file and checks all loaded rules for \
            mistakes that lose signals.

            Examples:
              killdb rules print --signals KILL,TERM
              sudo killdb rules install
              sudo killdb rules status
              sudo killdb rules remove
            """,
        subcommands: [Print.self, Install.self, Remove.self, Status.self]
    )

    struct KeyOption: ParsableArguments {
        @Option(help: ArgumentHelp("The audit key marking killdb's rules.", valueName: "key"))
        var key: String = RuleSet.defaultKey
    }

    struct SignalsOption: ParsableArguments {
        @Option(help: ArgumentHelp("Signals to record: KILL (default), KILL,TERM,ABRT, 15, all, or all,URG.",
                                   discussion: """
                                       `all` is every signal but 0 (liveness probes) and but SIGURG sent with tgkill or \
                                       rt_tgsigqueueinfo: Go programs preempt their own threads that way, hundreds of \
                                       times a second, which fills the logs and shortens how long auditd keeps them. \
                                       `all,URG` records those too.
                                       """,
                                   valueName: "signals"))
        var signals: String = "KILL"
    }

    struct DirectoryOption: ParsableArguments {
        @Option(help: ArgumentHelp("Where the persistent rules file goes.", valueName: "dir"))
        var rulesDir: String = RulesInstallation.defaultDirectory
    }

    static let generator = "killdb \(Ingest.version)"

    struct PluginOption: ParsableArguments {
        @Flag(help: ArgumentHelp(
            "Also install (or remove) the auditd plugin, so killdb stores events as they happen.",
            discussion: "Writes killdb.conf in the plugins directory, running this binary as `killdb plugin --db=DB`, and reloads auditd."))
        var plugin = false
        @Option(help: ArgumentHelp("auditd's plugins directory.", valueName: "dir"))
        var pluginsDir = PluginInstallation.defaultDirectory
    }

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the rules file killdb would install.",
            discussion: "Load it yourself with `auditctl -R FILE`, or put it under /etc/audit/rules.d.")

        @OptionGroup var signals: SignalsOption
        @OptionGroup var key: KeyOption

        func run() throws {
            let rules = try RuleSet(signals: SignalSelection.parse(signals.signals), key: key.key)
            print(rules.fileText(generator: RulesCommand.generator), terminator: "")
        }
    }

    struct Install: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Install the rules file and load its rules now (root).",
            discussion: """
                Writes DIR/killdb.rules (killdb-KEY.rules for another --key), deletes the loaded \
                rules whose key is exactly KEY (one `auditctl -d` each: `auditctl -D -k KEY` would \
                also delete rules whose key merely contains KEY), then runs `auditctl -R FILE`. \
                Installing again leaves one copy; the operator's rules are untouched.
                """)

        @OptionGroup var signals: SignalsOption
        @OptionGroup var key: KeyOption
        @OptionGroup var directory: DirectoryOption
        @OptionGroup var plugin: PluginOption
        @OptionGroup var database: DatabaseOption

        func run() throws {
            if plugin.plugin {
                // The plugin's binary is this one, by its real path (auditd wants root's own file).
                let binary = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
                let db = URL(fileURLWithPath: database.path).standardizedFileURL.path
                let installation = PluginInstallation(directory: plugin.pluginsDir)
                _ = try installation.install(binary: binary, database: db)
                let reloaded = try PluginInstallation.reloadAuditd(Auditctl.find())
                print("Installed \(installation.filePath): auditd hands events to `\(binary) plugin --db=\(db)`"
                      + (reloaded ? "; auditd reloaded." : ". Start auditd (or reload it) to run it."))
            }
            let selection = try SignalSelection.parse(signals.signals)
            let installation = try RulesInstallation(directory: directory.rulesDir, key: key.key, auditctl: Auditctl.find())
            let loaded = try installation.install(signals: selection, generator: RulesCommand.generator)
            print("Installed \(installation.filePath) and loaded \(loaded.count) rules with key \(key.key):")
            for line in loaded { print("  \(line)") }
            let findings = RuleLint.findings(in: try installation.auditctl.loadedRules())
            if !findings.isEmpty {
                print("The loaded rules have \(findings.count) lint finding\(findings.count == 1 ? "" : "s"): see `killdb rules status`.")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete the rules file and unload the rules with killdb's key (root).")

        @OptionGroup var key: KeyOption
        @OptionGroup var directory: DirectoryOption
        @OptionGroup var plugin: PluginOption

        func run() throws {
            if plugin.plugin {
                let installation = PluginInstallation(directory: plugin.pluginsDir)
                if try installation.remove() {
                    let reloaded = try PluginInstallation.reloadAuditd(Auditctl.find())
                    print("Removed \(installation.filePath)" + (reloaded ? "; auditd reloaded." : "."))
                } else {
                    print("No \(installation.filePath) to remove.")
                }
            }
            let installation = try RulesInstallation(directory: directory.rulesDir, key: key.key, auditctl: Auditctl.find())
            let removal = try installation.remove()
            print(removal.fileRemoved ? "Removed \(installation.filePath)." : "No \(installation.filePath) to remove.")
            print("Unloaded \(removal.rulesUnloaded) rules with key \(key.key).")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the loaded rules with the file and lint all loaded rules (root).",
            discussion: "Exits 0 when the loaded rules match the file and no finding remains, 1 otherwise.")

        @OptionGroup var key: KeyOption
        @OptionGroup var directory: DirectoryOption

        func run() throws {
            let installation = try RulesInstallation(directory: directory.rulesDir, key: key.key, auditctl: Auditctl.find())
            let status = try installation.status()
            print(status.text, terminator: "")
            // 1, as for "nothing found": something to fix, not a failure to run.
            if !status.isClean { throw ExitCode(Exit.nothingFound) }
        }
    }
}
