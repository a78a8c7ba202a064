import Foundation

/// Doctor's output: one line per check, then a verdict.
public enum DoctorReport {
    /// `clean` makes a string safe for a terminal (the CLI passes its escaper). With `colour`,
    /// FAIL is bold red and warn yellow, as in `killdb who`.
    public static func text(_ checks: [Check], clean: (String) -> String = { $0 }, colour: Bool = false) -> String {
        var out = ""
        for c in checks {
            var label = c.status.rawValue.padding(toLength: 4, withPad: " ", startingAt: 0)
            if colour {
                switch c.status {
                case .fail: label = "\u{1b}[1;31m\(label)\u{1b}[0m"
                case .warn: label = "\u{1b}[33m\(label)\u{1b}[0m"
                default: break
                }
            }
            out += "\(label)  \(c.title): \(clean(c.found))"
            if c.status != .ok && c.status != .skip, let action = c.action { out += " — fix: \(clean(action))" }
            out += "\n"
            for d in c.details { out += "        - \(clean(d))\n" }
        }
        let fails = checks.filter { $0.status == .fail }.count
        let warns = checks.filter { $0.status == .warn }.count
        let skips = checks.filter { $0.status == .skip }.count
        if fails + warns == 0 {
            out += "All checks passed" + (skips > 0 ? " (\(skips) skipped)." : ".") + "\n"
        } else {
            out += "\(fails + warns) of \(checks.count) checks need action (\(fails) FAIL, \(warns) warn)"
                + (skips > 0 ? ", \(skips) skipped" : "") + ".\n"
        }
        return out
    }
}
