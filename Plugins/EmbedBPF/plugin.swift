import Foundation
import PackagePlugin

/// Compiles the tracer's BPF program (Sources/TracerBPF/*.bpf.c) with clang for the bpf
/// target and embeds the object in the target as bytes, so `killdb` stays one file.
///
/// Debian's clang (/usr/bin/clang, from `scripts/setup`) is used, not the Swift toolchain's:
/// the bpf target and the libbpf headers in /usr/include are what it is built against.
/// KILLDB_BPF_CLANG overrides the compiler.
@main
struct EmbedBPF: BuildToolPlugin {
    struct NoClang: Error, CustomStringConvertible {
        var description: String {
            "no clang for the bpf target: install Debian's clang, llvm and libbpf-dev (scripts/setup --deps-only), or set KILLDB_BPF_CLANG"
        }
    }

    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let root = context.package.directoryURL
        let sourceDir = root.appending(path: "Sources/TracerBPF")
        let recordDir = root.appending(path: "Sources/CLibbpf")
        let fm = FileManager.default
        let sources = try fm.contentsOfDirectory(at: sourceDir, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasSuffix(".bpf.c") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let headers = try fm.contentsOfDirectory(at: sourceDir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "h" } + [recordDir.appending(path: "trace_record.h")]
        let env = ProcessInfo.processInfo.environment["KILLDB_BPF_CLANG"]
        let candidates = [env, "/usr/bin/clang", "/usr/bin/clang-14", "/usr/bin/clang-15", "/usr/bin/clang-16"]
        guard let clang = candidates.compactMap({ $0 }).first(where: { fm.isExecutableFile(atPath: $0) }) else {
            throw NoClang()
        }
        #if arch(x86_64)
        let arch = "x86"
        #elseif arch(arm64)
        let arch = "arm64"
        #else
        let arch = "unknown"
        #endif
        let work = context.pluginWorkDirectoryURL
        var commands: [Command] = []
        var objects: [URL] = []
        for source in sources {
            let object = work.appending(path: source.deletingPathExtension().deletingPathExtension().lastPathComponent + ".bpf.o")
            objects.append(object)
            commands.append(.buildCommand(
                displayName: "Compiling BPF \(source.lastPathComponent)",
                executable: URL(fileURLWithPath: clang),
                arguments: ["-target", "bpf", "-D__TARGET_ARCH_\(arch)", "-O2", "-g", "-Wall", "-Werror",
                            "-I", sourceDir.path, "-I", recordDir.path, "-c", source.path, "-o", object.path],
                inputFiles: [source] + headers,
                outputFiles: [object]))
        }
        let output = work.appending(path: "EmbeddedBPF.swift")
        commands.append(.buildCommand(
            displayName: "Embedding BPF objects",
            executable: try context.tool(named: "bpf-embedder").url,
            arguments: [output.path] + objects.map(\.path),
            inputFiles: objects,
            outputFiles: [output]))
        return commands
    }
}
