#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Streams the lines of a file from an offset in fixed-size chunks: memory stays flat
/// whatever the size of the log.
public struct LineReader {
    /// auditd's longest record is under 9 KiB (MAX_AUDIT_MESSAGE_LENGTH) plus its ENRICHED
    /// interpretations; anything far longer is not an audit record, and is skipped without
    /// being held in memory.
    public static let maxLineLength = 128 * 1024
    static let chunkSize = 1 << 20

    public enum Event {
        /// A complete line (without its newline) that starts at `offset`.
        case line(UnsafeBufferPointer<UInt8>, offset: Int64)
        /// A line longer than `maxLineLength`, skipped.
        case overlong(offset: Int64)
    }

    public struct Outcome {
        /// Offset just past the last newline read: where the next read resumes.
        public var endOfLastLine: Int64
        /// Bytes after the last newline (a record still being written, or a file whose
        /// last line has no newline), at most `maxLineLength`.
        public var trailing: [UInt8]
        public var bytesRead: Int64
    }

    /// Reads `fd` from `offset` to end of file, calling `body` for each line. A `stream`
    /// (a pipe from a decompressor) is read from where it is, and offsets count from there.
    public static func read(fd: Int32, from offset: Int64, stream: Bool = false,
                            _ body: (Event) throws -> Void) throws -> Outcome {
        var buffer = [UInt8](repeating: 0, count: chunkSize + maxLineLength)
        var filled = 0              // bytes in buffer
        var bufferOffset = offset   // file offset of buffer[0]
        var skipping = false        // inside an overlong line, dropping bytes until a newline
        var skipStart: Int64 = 0
        // Resuming inside a line: an overlong last line an earlier run counted and passed.
        // Its rest is dropped without being counted again.
        var silent = false
        if !stream && offset > 0 {
            var before: UInt8 = 0
            if pread(fd, &before, 1, off_t(offset - 1)) == 1 && before != 0x0a {
                skipping = true
                silent = true
            }
        }
        var bytesRead: Int64 = 0
        var endOfLastLine = offset
        while true {
            let room = buffer.count - filled
            let got = buffer.withUnsafeMutableBytes { raw -> Int in
                stream ? Glibc.read(fd, raw.baseAddress! + filled, min(room, chunkSize))
                    : pread(fd, raw.baseAddress! + filled, min(room, chunkSize), off_t(bufferOffset + Int64(filled)))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw AuditLogError.unreadable(path: "fd \(fd)", reason: String(cString: strerror(errno)))
            }
            if got == 0 { break }
            bytesRead += Int64(got)
            filled += got
            var start = 0
            try buffer.withUnsafeBufferPointer { buf in
                var i = start
                while i < filled {
                    // memchr is much faster than a byte loop on long lines.
                    guard let nl = memchr(buf.baseAddress! + i, 0x0a, filled - i) else { break }
                    let end = buf.baseAddress!.distance(to: nl.assumingMemoryBound(to: UInt8.self))
                    if skipping {
                        skipping = false
                        if !silent { try body(.overlong(offset: skipStart)) }
                        silent = false
                    } else if end - start > maxLineLength {
                        try body(.overlong(offset: bufferOffset + Int64(start)))
                    } else {
                        try body(.line(UnsafeBufferPointer(rebasing: buf[start..<end]),
                                       offset: bufferOffset + Int64(start)))
                    }
                    start = end + 1
                    i = start
                    endOfLastLine = bufferOffset + Int64(start)
                }
            }
            // Keep the unfinished line; drop it if it is already too long to be a record.
            let rest = filled - start
            if rest > maxLineLength {
                if !skipping { skipping = true; skipStart = bufferOffset + Int64(start) }
                bufferOffset += Int64(filled)
                filled = 0
            } else {
                if start > 0 {
                    buffer.withUnsafeMutableBytes { raw in
                        _ = memmove(raw.baseAddress!, raw.baseAddress! + start, rest)
                    }
                }
                bufferOffset += Int64(start)
                filled = rest
            }
        }
        if skipping {
            // An overlong line at the end: counted once, and passed, so the next run does
            // not read and count it again (it resumes inside it, silently).
            if !silent { try body(.overlong(offset: skipStart)) }
            return Outcome(endOfLastLine: bufferOffset + Int64(filled), trailing: [], bytesRead: bytesRead)
        }
        return Outcome(endOfLastLine: endOfLastLine, trailing: Array(buffer[0..<filled]), bytesRead: bytesRead)
    }
}
