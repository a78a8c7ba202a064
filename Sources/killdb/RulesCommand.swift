import ArgumentParser

// Placeholder: `killdb rules` is being written.
struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rules", abstract: "Print, install, remove or check killdb's audit rules.", shouldDisplay: false)
    func run() throws { throw ExitCode(2) }
}
