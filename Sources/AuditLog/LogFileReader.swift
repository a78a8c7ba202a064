#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One log file opened for reading from where a checkpoint left it, plain or compressed:
/// the reading that audit logs and kernel-log files share.
///
/// The fingerprint is taken once, when the file is opened; a checkpoint is found and saved
/// with it. A compressed file never grows: it is read wholly (its checkpoint is its size) or
/// again from the start.
public struct LogFileReader {
    public let file: LogFile
    public let fd: Int32
    /// The hash of the first bytes, nil for an empty file.
    public let fingerprint: Fingerprint?
    public let compression: Decompressor.Kind?

    /// The outcome of one read.
    public struct Outcome {
        /// Where the next read resumes: past the last complete line.
        public var end: Int64
        /// A compressed file whose decompressor reported damage: what came out before it was
        /// read, the rest is not; read it again next time.
        public var damaged = false
    }

    /// `fd` is the file open as `file` (`LogFile.open`); the caller closes it.
    public init(file: LogFile, fd: Int32) {
        self.file = file
        self.fd = fd
        fingerprint = Fingerprint.of(fd: fd, length: Int(min(Int64(Fingerprint.maxLength), file.size)))
        compression = Decompressor.kind(of: file.path)
    }

    /// Where reading starts after a checkpoint at `offset`.
    public func start(after offset: Int64?) -> Int64 {
        let start = offset ?? 0
        return compression != nil && start < file.size ? 0 : start
    }

    /// True when a compressed file was read to its end before: nothing to do.
    public func alreadyRead(from start: Int64) -> Bool {
        compression != nil && start >= file.size && file.size > 0
    }

    /// The offset a checkpoint may record once reading ended at `end` (with `damaged` as the
    /// outcome said): a compressed file counts as read only when it was read to its end.
    public func checkpointOffset(end: Int64, complete: Bool) -> Int64 {
        guard compression != nil else { return end }
        return complete ? file.size : 0
    }

    /// Reads lines from `start` to the end, handing each to `body`. A last line without a
    /// newline is complete only if nobody is still writing it (the file is 2 s old, or is a
    /// compressed rotation); otherwise it is left for the next read.
    public func read(from start: Int64, _ body: (LineReader.Event) throws -> Void) throws -> Outcome {
        var decompressor: Decompressor?
        if let compression { decompressor = try Decompressor.start(compression, input: fd, path: file.path) }
        let lines: LineReader.Outcome
        do {
            lines = try LineReader.read(fd: decompressor?.fd ?? fd, from: start, stream: decompressor != nil, body)
        } catch {
            decompressor?.abandon()
            throw error
        }
        var outcome = Outcome(end: lines.endOfLastLine)
        if !lines.trailing.isEmpty && (file.modifiedAgo >= 2 || decompressor != nil) {
            try lines.trailing.withUnsafeBufferPointer { try body(.line($0, offset: lines.endOfLastLine)) }
            outcome.end += Int64(lines.trailing.count)
        }
        if let decompressor {
            do { try decompressor.finish(path: file.path) } catch { outcome.damaged = true }
        }
        return outcome
    }
}
