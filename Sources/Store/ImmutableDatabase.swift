import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reading a database SQLite cannot share: in WAL mode a reader must create or write the
/// -shm file beside it, which a user who cannot write the directory (or anyone, on a
/// read-only medium) cannot. Such a database is opened immutable instead: no locks, no -shm,
/// and nothing a writer does meanwhile is seen, which the note says.
public enum ImmutableDatabase {
    /// The `file:` URI that opens `path` immutable.
    public static func uri(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "?#%")
        return "file:" + (absolute.addingPercentEncoding(withAllowedCharacters: allowed) ?? absolute) + "?immutable=1"
    }

    /// Why SQLite cannot share `path` with a writer here, or nil when it should be able to.
    static func whyNotShared(_ path: String) -> String? {
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        var fs = statvfs()
        if statvfs(dir, &fs) == 0, fs.f_flag & UInt(ST_RDONLY) != 0 { return "it is on a read-only file system" }
        if access(dir, W_OK) != 0 && access(path + "-shm", W_OK) != 0 {
            return "this user may not write its directory \(dir), where SQLite keeps the -shm file readers of a WAL database share"
        }
        return nil
    }

    /// The note for the operator once `path` is opened immutable.
    static func note(_ path: String, why: String) -> String {
        var note = "\(path) was opened immutable, because \(why): an ingest writing to it meanwhile is not seen"
        var st = stat()
        if stat(path + "-wal", &st) == 0, st.st_size > 0 {
            note += ", nor are the \(st.st_size) bytes of commits still in \(path)-wal (not yet copied into the database file; a checkpoint by its writer, e.g. the next ingest, moves them there)"
        }
        return note + "."
    }
}
