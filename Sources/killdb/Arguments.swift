import ArgumentParser
import Foundation
import Queries
import Store
import TimeArguments

/// The moment this run began: every relative time on the command line (-10m, today) counts
/// from it, so options read in validate() and again in run() agree.
let invocationTime = Date()

/// The options whose value is a time, for joining ausearch's `11/24/26 19:02:35` pair.
let timeOptions: Set<String> = ["--before", "--after", "--since", "--until", "--boot-time"]

/// The zone times are read and shown in: UTC with --utc (as journalctl's), else the local one.
func displayZone(utc: Bool) -> TimeZone { utc ? TimeZone(identifier: "UTC")! : .current }

/// `text` as a time, or a usage error naming `option`.
func time(_ text: String, option: String, utc: Bool = false) throws -> Double {
    do {
        return try TimeExpression.parse(text, now: invocationTime, timeZone: displayZone(utc: utc)).timeIntervalSince1970
    } catch {
        throw ValidationError("\(option): \(error.description)")
    }
}

/// `text` as a duration, or a usage error naming `option`.
func duration(_ text: String, option: String) throws -> Double {
    do { return try TimeExpression.duration(text) } catch { throw ValidationError("\(option): \(error.description)") }
}

/// A user as ausearch's -ui and -ul take it: a number, or a name this host's user database
/// (getpwnam) knows.
func user(_ text: String, option: String) throws -> Int64 {
    if let n = Int64(text) {
        guard (0...4_294_967_295).contains(n) else {
            throw ValidationError("\(option): \(text) is not a uid (0 to 4294967295)")
        }
        return n
    }
    guard !text.isEmpty, let entry = getpwnam(text) else {
        throw ValidationError("\(option): no user named \"\(text)\" on this host. Give a uid number for a user of another host.")
    }
    return Int64(entry.pointee.pw_uid)
}

/// Refuses `--node NAME` when no log in the database comes from that host.
func requireKnownNode(_ node: String?, in store: SignalStore) throws {
    guard let node else { return }
    let known = try Nodes.known(in: store)
    guard !known.contains(node) else { return }
    let listed = known.isEmpty
        ? "its logs name no node (auditd writes node= only with name_format set in auditd.conf)"
        : "the nodes on record are " + known.prefix(20).map { "\"\($0)\"" }.joined(separator: ", ")
            + (known.count > 20 ? " and \(known.count - 20) more" : "")
    throw NoSuchNode(message: "no node named \"\(node)\" in \(store.path): \(listed).")
}

/// `--node` names a host the database holds nothing from: a usage error, not "nothing on record".
struct NoSuchNode: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
