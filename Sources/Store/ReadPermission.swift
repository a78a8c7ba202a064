import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why this user may not read the database, in words that say who may and what to do:
/// SQLite itself only says "unable to open database file", and a directory this user may not
/// enter makes the database look absent.
enum ReadPermission {
    /// nil when `path` (and every directory above it) can be read, or simply does not exist.
    static func problem(_ path: String) -> StoreError? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var dir = ""
        for part in absolute.split(separator: "/").dropLast() {
            dir += "/" + part
            if access(dir, X_OK) != 0, errno == EACCES {
                return .permissionDenied(path: path, detail: "the directory \(dir) " + who(dir, may: "enter"))
            }
        }
        if access(path, R_OK) != 0, errno == EACCES {
            return .permissionDenied(path: path, detail: "\(path) " + who(path, may: "read"))
        }
        return nil
    }

    /// "is readable by root only", "may be entered by root and the group adm".
    static func who(_ path: String, may verb: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "cannot be \(verb == "read" ? "read" : "entered") by this user" }
        let bit: (owner: mode_t, group: mode_t, other: mode_t) = verb == "read"
            ? (S_IRUSR, S_IRGRP, S_IROTH) : (S_IXUSR, S_IXGRP, S_IXOTH)
        var who: [String] = []
        if st.st_mode & bit.owner != 0 { who.append(userName(st.st_uid)) }
        if st.st_mode & bit.group != 0 { who.append("the group " + groupName(st.st_gid)) }
        if st.st_mode & bit.other != 0 { who.append("everyone") }
        let phrase = verb == "read" ? "is readable by" : "may be entered by"
        let octal = String(st.st_mode & 0o7777, radix: 8)
        let mode = String(repeating: "0", count: max(0, 4 - octal.count)) + octal
        switch who.count {
        case 0: return "\(phrase) nobody (mode \(mode))"
        case 1: return "\(phrase) \(who[0]) only (mode \(mode))"
        default: return "\(phrase) \(who.joined(separator: " and ")) (mode \(mode))"
        }
    }

    static func userName(_ uid: uid_t) -> String {
        guard let pw = getpwuid(uid), let name = pw.pointee.pw_name else { return "uid \(uid)" }
        return String(cString: name)
    }

    static func groupName(_ gid: gid_t) -> String {
        guard let gr = getgrgid(gid), let name = gr.pointee.gr_name else { return "gid \(gid)" }
        return String(cString: name)
    }
}
