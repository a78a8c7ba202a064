/// Where a process lives, read from its cgroup as an operator names it: the systemd unit,
/// the container and its runtime, the Kubernetes pod. The cgroup path is made by the
/// kernel, but the names inside it (unit names, cgroup directories root made) are chosen
/// by whoever made them, so every name is kept as the bytes it was, never assumed UTF-8.
public struct ProcessPlace: Sendable, Equatable {
    /// The cgroup path the place was read from (the unified `0::` line, else the
    /// `name=systemd` one, else the first one that names a container).
    public var cgroup: [UInt8]
    /// The innermost systemd unit that is not a container's scope: `cron.service`,
    /// `session-3.scope`, `user@1000.service`, or a user's own unit below it.
    public var unit: [UInt8]?
    /// The slice the unit (or container) sits in: `system.slice`, `user-1000.slice`.
    public var slice: [UInt8]?
    public var container: Container?
    public var pod: Pod?

    public init(cgroup: [UInt8], unit: [UInt8]? = nil, slice: [UInt8]? = nil, container: Container? = nil, pod: Pod? = nil) {
        self.cgroup = cgroup
        self.unit = unit
        self.slice = slice
        self.container = container
        self.pod = pod
    }

    /// True when the path says nothing an operator would name (the root cgroup, `/init.scope`).
    public var isEmpty: Bool { unit == nil && container == nil && pod == nil }
}

public enum ContainerRuntime: String, Sendable, Equatable, CaseIterable {
    case docker
    /// containerd, through its CRI plugin (`cri-containerd-<id>.scope`).
    case containerd
    case crio = "cri-o"
    case podman
    /// A container whose cgroup names no runtime (kubelet's cgroupfs driver: `/kubepods/…/pod<uid>/<id>`).
    case unknown
}

public struct Container: Sendable, Equatable {
    /// The container id as the runtime prints it: lowercase hex, usually 64 digits.
    public var id: String
    public var runtime: ContainerRuntime

    public init(id: String, runtime: ContainerRuntime) {
        self.id = id
        self.runtime = runtime
    }

    /// The first 12 digits, as `docker ps` and `crictl ps` show it.
    public var shortID: String { String(id.prefix(12)) }
}

/// Kubernetes' quality-of-service class, which kubelet puts in the pod's cgroup path.
public enum PodQoS: String, Sendable, Equatable {
    case guaranteed, burstable, besteffort
}

public struct Pod: Sendable, Equatable {
    /// The pod's UID, with dashes (kubelet's systemd driver writes it with underscores).
    public var uid: String
    public var qos: PodQoS
    /// From kubelet's `/var/log/pods/<namespace>_<name>_<uid>/<container>/`, when it is there.
    public var namespace: [UInt8]?
    public var name: [UInt8]?
    public var containerName: [UInt8]?

    public init(uid: String, qos: PodQoS, namespace: [UInt8]? = nil, name: [UInt8]? = nil, containerName: [UInt8]? = nil) {
        self.uid = uid
        self.qos = qos
        self.namespace = namespace
        self.name = name
        self.containerName = containerName
    }
}

/// One line of /proc/PID/cgroup: `hierarchy-ID:controller-list:path`.
public struct CgroupLine: Sendable, Equatable {
    public var hierarchy: Int
    /// Controllers, or `name=systemd` for a named hierarchy; empty for the unified (v2) one.
    public var controllers: [[UInt8]]
    public var path: [UInt8]

    /// The v2 unified hierarchy (`0::/…`).
    public var isUnified: Bool { hierarchy == 0 && controllers.isEmpty }
    public var isSystemd: Bool { controllers.contains(Array("name=systemd".utf8)) }

    /// Parses `1:name=systemd:/system.slice/cron.service`; nil for a line that is not one.
    /// The path is everything after the second colon (a directory name may hold colons).
    public init?(_ line: some Collection<UInt8>) {
        let bytes = Array(line)
        guard let c1 = bytes.firstIndex(of: UInt8(ascii: ":")),
              let c2 = bytes[(c1 + 1)...].firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let idBytes = bytes[..<c1]
        guard !idBytes.isEmpty, idBytes.count <= 9, idBytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        hierarchy = idBytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        controllers = bytes[(c1 + 1)..<c2].split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true).map(Array.init)
        path = Array(bytes[(c2 + 1)...])
        guard path.first == UInt8(ascii: "/") else { return nil }
    }
}

extension ProcessPlace {
    /// The place of a process from the content of its /proc/PID/cgroup (every line), or
    /// from one cgroup line or path. Lines that are not cgroup lines are ignored; nil when
    /// nothing could be read.
    public init?(procCgroup content: some Collection<UInt8>) {
        let lines = Array(content).split(separator: UInt8(ascii: "\n")).compactMap { CgroupLine($0) }
        if lines.isEmpty {
            // A bare path, as the tracer or a log gives it.
            let path = Array(content)
            guard path.first == UInt8(ascii: "/") else { return nil }
            self = ProcessPlace(path: path)
            return
        }
        // systemd's view first (units), then whatever line names a container or pod:
        // on v1 hosts the cgroupfs driver puts those only in the controllers' hierarchies.
        let preferred = lines.first(where: \.isUnified).flatMap { $0.path.count > 1 ? $0 : nil }
            ?? lines.first(where: \.isSystemd) ?? lines[0]
        var place = ProcessPlace(path: preferred.path)
        if place.container == nil || place.pod == nil {
            for line in lines where line != preferred {
                let other = ProcessPlace(path: line.path)
                if place.container == nil, let c = other.container { place.container = c }
                if place.pod == nil, let p = other.pod { place.pod = p }
            }
        }
        self = place
    }

    /// The place one cgroup path names.
    public init(path: [UInt8]) {
        self.init(cgroup: path)
        let parts = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map(Array.init)
        var lastSlice: [UInt8]?
        var inKubepods = false
        var qos: PodQoS = .guaranteed
        for (i, part) in parts.enumerated() {
            if let c = Self.containerScope(part) {
                if container == nil { container = c; slice = lastSlice }
                continue
            }
            if part == Array("kubepods".utf8) || part == Array("kubepods.slice".utf8) {
                inKubepods = true
                continue
            }
            if inKubepods, pod == nil {
                if let q = Self.kubepodsQoS(part) { qos = q; continue }
                if let uid = Self.podUID(part) {
                    pod = Pod(uid: uid, qos: qos)
                    continue
                }
            }
            if pod != nil, container == nil, let id = Self.bareContainerID(part) {
                container = Container(id: id, runtime: .unknown)
                continue
            }
            // cgroupfs layouts of docker (`/docker/<id>`) and podman (`/libpod_parent/libpod-<id>`).
            if container == nil, i > 0, let id = Self.bareContainerID(part) {
                let parent = parts[i - 1]
                if parent == Array("docker".utf8) || parent == Array("moby".utf8) {
                    container = Container(id: id, runtime: .docker)
                    continue
                }
            }
            if Self.hasSuffix(part, ".slice") {
                lastSlice = part
                continue
            }
            // A nested manager's own process (user@1000.service/init.scope) is that manager's.
            if unit != nil, part == Array("init.scope".utf8) { continue }
            if container == nil, Self.isUnitName(part) {
                unit = part
                slice = lastSlice
            }
        }
        if pod != nil && unit == nil { slice = nil }
    }

    static let unitSuffixes = [".service", ".scope", ".socket", ".mount", ".swap"].map { Array($0.utf8) }

    static func isUnitName(_ part: [UInt8]) -> Bool {
        unitSuffixes.contains { part.count > $0.count && hasSuffix(part, $0) }
    }

    static func hasSuffix(_ part: [UInt8], _ suffix: String) -> Bool { hasSuffix(part, Array(suffix.utf8)) }
    static func hasSuffix(_ part: [UInt8], _ suffix: [UInt8]) -> Bool {
        part.count >= suffix.count && part[(part.count - suffix.count)...].elementsEqual(suffix)
    }

    static let scopePrefixes: [([UInt8], ContainerRuntime)] = [
        (Array("docker-".utf8), .docker), (Array("cri-containerd-".utf8), .containerd),
        (Array("crio-".utf8), .crio), (Array("libpod-".utf8), .podman),
    ]

    /// `docker-<id>.scope`, `cri-containerd-<id>.scope`, `crio-<id>.scope`, `libpod-<id>.scope`,
    /// and podman's cgroupfs `libpod-<id>` (no suffix).
    static func containerScope(_ part: [UInt8]) -> Container? {
        for (prefix, runtime) in scopePrefixes where part.starts(with: prefix) {
            var rest = part.dropFirst(prefix.count)
            if hasSuffix(Array(rest), ".scope") { rest = rest.dropLast(6) }
            if let id = hexID(Array(rest)) { return Container(id: id, runtime: runtime) }
        }
        return nil
    }

    static func bareContainerID(_ part: [UInt8]) -> String? { hexID(part) }

    /// A container id: 32 to 64 hex digits.
    static func hexID(_ b: [UInt8]) -> String? {
        guard b.count >= 32, b.count <= 64,
              b.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }) else { return nil }
        return String(decoding: b, as: UTF8.self)
    }

    /// `kubepods-burstable.slice`, `burstable`, `kubepods-besteffort.slice`, `besteffort`.
    static func kubepodsQoS(_ part: [UInt8]) -> PodQoS? {
        switch String(decoding: part, as: UTF8.self) {
        case "burstable", "kubepods-burstable.slice": return .burstable
        case "besteffort", "kubepods-besteffort.slice": return .besteffort
        default: return nil
        }
    }

    /// `kubepods-burstable-pod<uid_with_underscores>.slice`, `kubepods-pod<uid>.slice`
    /// (guaranteed), or the cgroupfs driver's `pod<uid>`: the UID with dashes.
    static func podUID(_ part: [UInt8]) -> String? {
        var s = String(decoding: part, as: UTF8.self)
        if s.hasPrefix("kubepods-") && s.hasSuffix(".slice") {
            s = String(s.dropFirst(9).dropLast(6))
            for q in ["burstable-", "besteffort-"] where s.hasPrefix(q) { s = String(s.dropFirst(q.count)) }
            guard s.hasPrefix("pod") else { return nil }
            s = String(s.dropFirst(3))
        } else if s.hasPrefix("pod") {
            s = String(s.dropFirst(3))
        } else {
            return nil
        }
        let uid = s.replacingUnderscores()
        return isUUID(uid) ? uid : nil
    }

    /// 8-4-4-4-12 hex digits (what the API server makes; a static pod's UID is a hash of
    /// the same shape, or 32 hex digits).
    static func isUUID(_ s: String) -> Bool {
        let b = Array(s.utf8)
        let hex: (UInt8) -> Bool = { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        if b.count == 32 { return b.allSatisfy(hex) }
        guard b.count == 36 else { return false }
        for (i, c) in b.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != UInt8(ascii: "-") { return false } } else if !hex(c) { return false }
        }
        return true
    }
}

extension String {
    func replacingUnderscores() -> String {
        String(decoding: utf8.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: "-") : $0 }, as: UTF8.self)
    }
}
