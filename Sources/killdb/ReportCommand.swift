import ArgumentParser

// Placeholder: `killdb report` is being written.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Write an incident report of the signals before a time.", shouldDisplay: false)
    func run() throws { throw ExitCode(2) }
}
