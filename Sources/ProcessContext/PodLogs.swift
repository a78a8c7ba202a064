import Foundation

/// Kubelet's log directories, which name a pod from its UID: `pods/<namespace>_<name>_<uid>/<container>/`
/// and `containers/<pod>_<namespace>_<container>-<container id>.log`. Namespace and pod
/// names are DNS labels and cannot hold `_`, so the split is exact; anything that does not
/// fit is ignored, never guessed from.
public struct PodLogs: Sendable {
    /// `/var/log` on a node; a temporary directory in tests.
    public var root: String

    public init(root: String = "/var/log") { self.root = root }

    /// The pod with its namespace, name and (when it can be told) the container's name filled in.
    public func complete(_ pod: Pod, container: Container?) -> Pod {
        var pod = pod
        let podsDir = root + "/pods"
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: podsDir) else { return pod }
        let suffix = "_" + pod.uid
        guard let dir = entries.first(where: { $0.hasSuffix(suffix) }) else { return pod }
        let parts = dir.dropLast(suffix.count).split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return pod }
        pod.namespace = Array(parts[0].utf8)
        pod.name = Array(parts[1].utf8)
        if let id = container?.id, let name = containerName(id: id, pod: pod) {
            pod.containerName = name
        } else if let names = try? FileManager.default.contentsOfDirectory(atPath: podsDir + "/" + dir),
                  names.count == 1 {
            // One container: it is that one.
            pod.containerName = Array(names[0].utf8)
        }
        return pod
    }

    /// `containers/<pod>_<namespace>_<container>-<id>.log`, the link kubelet makes per container.
    func containerName(id: String, pod: Pod) -> [UInt8]? {
        guard let ns = pod.namespace, let name = pod.name,
              let entries = try? FileManager.default.contentsOfDirectory(atPath: root + "/containers") else { return nil }
        let prefix = String(decoding: name, as: UTF8.self) + "_" + String(decoding: ns, as: UTF8.self) + "_"
        let tail = "-" + id + ".log"
        guard let file = entries.first(where: { $0.hasPrefix(prefix) && $0.hasSuffix(tail) }) else { return nil }
        let middle = file.dropFirst(prefix.count).dropLast(tail.count)
        return middle.isEmpty ? nil : Array(middle.utf8)
    }
}
