import ArgumentParser

// Placeholder: `killdb plugin` is being written.
struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "plugin", abstract: "Run as an auditd plugin.", shouldDisplay: false)
    func run() throws { throw ExitCode(2) }
}
