// TEMPORARY STUB, replaced by the real tables.
public struct AuditArch: Hashable, Sendable {
    public let code: UInt32
    public init(code: UInt32) { self.code = code }
    public init?(field: some Collection<UInt8>) {
        guard let v = AuditField.hexUInt64(field) else { return nil }
        code = UInt32(truncatingIfNeeded: v)
    }
    public var name: String { code == 0xc000003e ? "x86_64" : code == 0x40000003 ? "i386" : "unknown" }
    public func signalSyscall(number: Int) -> SignalSyscall? {
        let t: [Int: SignalSyscall] = code == 0xc000003e ? [62: .kill, 200: .tkill, 234: .tgkill, 129: .rt_sigqueueinfo, 297: .rt_tgsigqueueinfo, 424: .pidfd_send_signal] : [37: .kill, 238: .tkill, 270: .tgkill, 178: .rt_sigqueueinfo, 335: .rt_tgsigqueueinfo, 424: .pidfd_send_signal]
        return t[number]
    }
    public func number(of s: SignalSyscall) -> Int? { nil }
    public static func intArgument(_ raw: UInt64) -> Int64 { Int64(Int32(truncatingIfNeeded: raw)) }
    public func signalName(_ n: Int32) -> String { n == 9 ? "SIGKILL" : "SIG\(n)" }
}
public enum SignalSyscall: String, CaseIterable, Sendable {
    case kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, pidfd_send_signal
    public var signalArgumentIndex: Int { self == .tgkill || self == .rt_tgsigqueueinfo ? 2 : 1 }
    public init?(name: some Collection<UInt8>) { self.init(rawValue: String(decoding: Array(name), as: UTF8.self)) }
}
public enum AuditField {
    public static func decodeString(_ v: some Collection<UInt8>) -> [UInt8]? {
        let a = Array(v)
        if a.count >= 2, a.first == 0x22, a.last == 0x22 { return Array(a.dropFirst().dropLast()) }
        if a == Array("(null)".utf8) || a == Array("(none)".utf8) { return nil }
        var out: [UInt8] = []
        var i = 0
        while i + 1 < a.count, let h = UInt8(String(decoding: a[i...i+1], as: UTF8.self), radix: 16) { out.append(h); i += 2 }
        return i == a.count ? out : a
    }
    public static func hexUInt64(_ v: some Collection<UInt8>) -> UInt64? { UInt64(String(decoding: Array(v), as: UTF8.self), radix: 16) }
    public static func decimal(_ v: some Collection<UInt8>) -> Int64? { Int64(String(decoding: Array(v), as: UTF8.self)) }
    public static func auditID(_ v: some Collection<UInt8>) -> Int64? { decimal(v).map { $0 == -1 ? 4294967295 : $0 } }
    public static func errnoName(_ e: Int64) -> String? { e == -1 ? "EPERM" : e == -3 ? "ESRCH" : e < 0 ? "E\(-e)" : nil }
    public static func commandLine(_ p: [UInt8]) -> [UInt8] { p.map { $0 == 0 ? 0x20 : $0 } }
}
