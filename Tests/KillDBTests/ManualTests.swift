import Foundation
import Testing

/// man/*.1 are made from the commands by scripts/man (swift-argument-parser's generate-manual)
/// and committed, so scripts/install needs no toolchain plugin. These tests catch a page that
/// no longer says what the command takes.
@Suite("manual pages: one per command, in step with the commands")
struct ManualTests {
    static let manDirectory = TestLogs.repoRoot.appendingPathComponent("man").path

    struct Command { var path: [String]; var options: [String] }

    /// Every command and subcommand, with its options' preferred long names, from the
    /// binary's own description of itself.
    static func commands() throws -> [Command] {
        let dump = try CLI.run(["--experimental-dump-help"])
        let root = try #require(try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])
        var out: [Command] = []
        func walk(_ c: [String: Any], _ path: [String]) {
            let arguments = c["arguments"] as? [[String: Any]] ?? []
            let options = arguments.compactMap { a -> String? in
                guard (a["shouldDisplay"] as? Bool) != false, let names = a["names"] as? [[String: Any]] else { return nil }
                return names.first { $0["kind"] as? String == "long" }?["name"] as? String
            }
            out.append(Command(path: path, options: options))
            for s in c["subcommands"] as? [[String: Any]] ?? [] where s["commandName"] as? String != "help" {
                walk(s, path + [s["commandName"] as? String ?? "?"])
            }
        }
        walk(try #require(root["command"] as? [String: Any]), ["killdb"])
        return out
    }

    @Test("every command has its page, named as git names them, listing each of its options (else run scripts/man)")
    func pagesMatchTheCommands() throws {
        let commands = try Self.commands()
        #expect(commands.count >= 12)
        for c in commands {
            let name = c.path.joined(separator: "-")
            let page = Self.manDirectory + "/\(name).1"
            guard let text = try? String(contentsOfFile: page, encoding: .utf8) else {
                Issue.record("no manual page \(page) for `\(c.path.joined(separator: " "))`: run scripts/man")
                continue
            }
            #expect(text.contains(".Dt \(name.uppercased()) 1"), "\(name)")
            for option in c.options {
                #expect(text.contains("Fl -\(option)"), "man/\(name).1 lacks --\(option): run scripts/man")
            }
        }
        let pages = try FileManager.default.contentsOfDirectory(atPath: Self.manDirectory).filter { $0.hasSuffix(".1") }
        #expect(Set(pages) == Set(commands.map { $0.path.joined(separator: "-") + ".1" }), "a page for a command that is gone")
    }

    @Test("examples are literal blocks: man does not refill them into lines that break when pasted")
    func examplesAreLiteral() throws {
        let text = try String(contentsOfFile: Self.manDirectory + "/killdb-who.1", encoding: .utf8)
        let examples = try #require(text.range(of: "Examples:\n"))
        #expect(text[examples.upperBound...].hasPrefix(".Bd -literal -offset indent\n  killdb who 4242"))
    }
}
