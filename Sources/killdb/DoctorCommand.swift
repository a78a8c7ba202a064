import ArgumentParser

// Placeholder: `killdb doctor` is being written.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "doctor", abstract: "Check the audit set-up and the database.", shouldDisplay: false)
    func run() throws { throw ExitCode(2) }
}
