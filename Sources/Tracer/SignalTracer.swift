import AuditDecoding
import CLibbpf
import Foundation
import KernelTrace
#if canImport(Glibc)
import Glibc
#endif

/// The BPF program on `signal:signal_generate` (Sources/TracerBPF/signal.bpf.c), loaded
/// from the bytes embedded at build time, attached, and read through its ring buffer.
///
/// `poll` is meant for one thread; it hands decoded records to the caller and never waits
/// on anything but the ring buffer. `close` detaches and unloads everything (the kernel
/// also does when the process dies: every link and map is a file descriptor).
public final class SignalTracer {
    public let filter: SignalFilter
    private var object: OpaquePointer?
    private var links: [OpaquePointer] = []
    private var ring: OpaquePointer?
    private var objectBytes: UnsafeMutableRawBufferPointer?
    private var lostMapFD: Int32 = -1
    private let decoder: RecordDecoder
    private let ringBufferBytes: UInt32
    fileprivate var decoded: [TracedSignal] = []
    fileprivate var failure: String?

    /// Opens, loads and attaches the program. Throws `TracerError.unavailable` when the
    /// machine cannot run it, `.libbpf` with libbpf's (and the verifier's) words otherwise.
    /// `ringBufferBytes`: the kernel's buffer between the program and `poll` (a power of two,
    /// a multiple of the page size); 8 MiB holds about 40,000 signal records.
    public init(filter: SignalFilter, ringBufferBytes: UInt32 = 8 << 20) throws(TracerError) {
        self.filter = filter
        self.ringBufferBytes = ringBufferBytes
        self.decoder = RecordDecoder()
        let availability = TracerAvailability.check()
        if let error = availability.error { throw error }
        LibbpfLog.install()
        LibbpfLog.clear()
        do {
            try open()
        } catch {
            close()
            throw error
        }
    }

    deinit { close() }

    private func open() throws(TracerError) {
        guard let encoded = embeddedBPFObjects["signal.bpf.o"], let data = Data(base64Encoded: encoded) else {
            throw .libbpf(step: "find its embedded BPF object (the build did not embed it)", errno: ENOENT, log: "")
        }
        // libbpf reads the ELF image in place while the object lives.
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: 16)
        data.copyBytes(to: bytes)
        objectBytes = bytes
        var opts = bpf_object_open_opts()
        opts.sz = MemoryLayout<bpf_object_open_opts>.size
        let obj = "killdb_signal".withCString { name -> OpaquePointer? in
            opts.object_name = name
            return bpf_object__open_mem(bytes.baseAddress, bytes.count, &opts)
        }
        guard let obj else { throw .libbpf(step: "open its BPF object", errno: errno, log: LibbpfLog.text) }
        object = obj
        if let events = bpf_object__find_map_by_name(obj, "events"), ringBufferBytes != 8 << 20 {
            let r = bpf_map__set_max_entries(events, ringBufferBytes)
            if r != 0 { throw .libbpf(step: "size its ring buffer (\(ringBufferBytes) bytes)", errno: -r, log: LibbpfLog.text) }
        }
        let loaded = bpf_object__load(obj)
        if loaded != 0 { throw Self.loadError(-loaded) }

        // The filter, before anything is attached.
        guard let config = bpf_object__find_map_by_name(obj, "config") else {
            throw .libbpf(step: "find its config map", errno: ENOENT, log: "")
        }
        var key: UInt32 = 0
        var value = kt_config(signal_mask: filter.mask, skip_self_sigurg: filter.all ? 1 : 0, unused: 0)
        if bpf_map_update_elem(bpf_map__fd(config), &key, &value, 0) != 0 {
            throw .libbpf(step: "set its signal filter", errno: errno, log: LibbpfLog.text)
        }
        guard let lost = bpf_object__find_map_by_name(obj, "lost"),
              let events = bpf_object__find_map_by_name(obj, "events") else {
            throw .libbpf(step: "find its maps", errno: ENOENT, log: "")
        }
        lostMapFD = bpf_map__fd(lost)
        guard let contexts = bpf_object__find_map_by_name(obj, "contexts"),
              let cgroups = bpf_object__find_map_by_name(obj, "cgroups") else {
            throw .libbpf(step: "find its maps", errno: ENOENT, log: "")
        }
        // A context or cgroup the decoder does not hold is deleted from the program's
        // maps, so that the next signal that needs it sends it again.
        let contextsFD = bpf_map__fd(contexts), cgroupsFD = bpf_map__fd(cgroups)
        decoder.forgetContext = { id in
            var key = kt_context_key(start_boottime: id.startNanoseconds, tgid: UInt32(bitPattern: id.pid), unused: 0)
            _ = bpf_map_delete_elem(contextsFD, &key)
        }
        decoder.forgetCgroup = { id in
            var key = id
            _ = bpf_map_delete_elem(cgroupsFD, &key)
        }

        let context = Unmanaged.passUnretained(self).toOpaque()
        guard let rb = ring_buffer__new(bpf_map__fd(events), { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let tracer = Unmanaged<SignalTracer>.fromOpaque(ctx).takeUnretainedValue()
            tracer.consume(UnsafeRawPointer(data), size)
            return 0
        }, context, nil) else {
            throw .libbpf(step: "open its ring buffer", errno: errno, log: LibbpfLog.text)
        }
        ring = rb

        // The OOM marker first: a signal record must never arrive without the chance of its
        // OOM marker following it.
        for name in ["on_mark_victim", "on_signal_generate"] {
            guard let program = bpf_object__find_program_by_name(obj, name) else {
                throw .libbpf(step: "find its program \(name)", errno: ENOENT, log: "")
            }
            guard let link = bpf_program__attach(program) else {
                throw .libbpf(step: "attach \(name)", errno: errno, log: LibbpfLog.text)
            }
            links.append(link)
        }
    }

    private static func loadError(_ code: Int32) -> TracerError {
        let log = LibbpfLog.text
        if code == EPERM || code == EACCES {
            return .unavailable(reason: "the kernel refused to load the BPF program (\(String(cString: strerror(code))))",
                                fix: "Run as root outside a container that drops CAP_BPF/CAP_PERFMON, with kernel.unprivileged_bpf_disabled irrelevant to root; check `dmesg` for an LSM denial.\n" + log.split(separator: "\n").suffix(8).joined(separator: "\n"))
        }
        if log.contains("tp_btf") || log.contains("signal_generate") && code == ESRCH || code == ENOENT {
            return .unavailable(reason: "the kernel lacks the signal_generate or mark_victim tracepoint, or BTF for them",
                                fix: "Use a kernel built with CONFIG_TRACEPOINTS and CONFIG_DEBUG_INFO_BTF (5.8 or later).")
        }
        return .libbpf(step: "load its BPF program", errno: code, log: log)
    }

    /// Waits up to `timeout` milliseconds for records and returns those that are ready.
    /// A record that may be an OOM kill waits one more poll for the OOM marker behind it.
    public func poll(timeout: Int32) throws(TracerError) -> [TracedSignal] {
        guard let ring else { return [] }
        let n = ring_buffer__poll(ring, timeout)
        if n < 0 && -n != EINTR { throw .libbpf(step: "read its ring buffer", errno: -n, log: "") }
        // The program wakes this poll only once the buffer fills up (BPF_RB_NO_WAKEUP below
        // that): what came in quietly is read here, after the timeout.
        let c = ring_buffer__consume(ring)
        if c < 0 && -c != EINTR { throw .libbpf(step: "read its ring buffer", errno: -c, log: "") }
        decoded.append(contentsOf: decoder.endOfPoll())
        // Handed over whole (keeping the capacity here would allocate it again while the
        // caller holds the records).
        var out: [TracedSignal] = []
        swap(&out, &decoded)
        return out
    }

    /// Every record still held back (at the end).
    public func drain() -> [TracedSignal] {
        decoder.endOfPoll() + decoder.endOfPoll()
    }

    /// Signal records the kernel could not write since the program was loaded (all CPUs).
    public func lostRecords() -> UInt64 { lost(UInt32(KT_LOST_SIGNALS)) }

    /// Context and cgroup records the kernel could not write: their signals were stored
    /// without them (`contextMissing`), and the next signal sends them again.
    public func lostContexts() -> UInt64 { lost(UInt32(KT_LOST_CONTEXTS)) }

    /// Signals decoded without their sender's context.
    public var contextsMissing: Int { decoder.contextsMissing }

    private func lost(_ which: UInt32) -> UInt64 {
        guard lostMapFD >= 0 else { return 0 }
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { return 0 }
        var values = [UInt64](repeating: 0, count: cpus)
        var key = which
        guard bpf_map_lookup_elem(lostMapFD, &key, &values) == 0 else { return 0 }
        return values.reduce(0, &+)
    }

    fileprivate func consume(_ data: UnsafeRawPointer, _ size: Int) {
        decoder.decode(data, size: size, into: &decoded)
    }

    /// Detaches and unloads everything. Safe to call twice.
    public func close() {
        for link in links { bpf_link__destroy(link) }
        links.removeAll()
        if let ring { ring_buffer__free(ring) }
        ring = nil
        if let object { bpf_object__close(object) }
        object = nil
        lostMapFD = -1
        objectBytes?.deallocate()
        objectBytes = nil
    }
}

/// libbpf's messages, kept so an error can quote the verifier.
enum LibbpfLog {
    nonisolated(unsafe) private static var buffer = ""
    private static let lock = NSLock()
    nonisolated(unsafe) private static var installed = false

    static func install() {
        lock.lock()
        defer { lock.unlock() }
        guard !installed else { return }
        installed = true
        _ = libbpf_set_print { level, format, args in
            guard let format, let args else { return 0 }
            var text = [CChar](repeating: 0, count: 1024)
            let n = vsnprintf(&text, text.count, format, args)
            guard n > 0 else { return 0 }
            let line = String(cString: text)
            LibbpfLog.append(line, debug: level == LIBBPF_DEBUG)
            return n
        }
    }

    static func append(_ line: String, debug: Bool) {
        if debug { return }
        lock.lock()
        buffer += line
        if buffer.utf8.count > 64 << 10 { buffer = String(buffer.suffix(32 << 10)) }
        lock.unlock()
    }

    static func clear() {
        lock.lock()
        buffer = ""
        lock.unlock()
    }

    static var text: String {
        lock.lock()
        defer { lock.unlock() }
        return buffer
    }
}
