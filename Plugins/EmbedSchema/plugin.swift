import Foundation
import PackagePlugin

/// Embeds the migrations in `Schema/` into the target as Swift string literals, so the
/// `killdb` binary carries its schema with it: no resource bundle to install or lose.
@main
struct EmbedSchema: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let schemaDir = context.package.directoryURL.appending(path: "Schema")
        let files = try FileManager.default
            .contentsOfDirectory(at: schemaDir, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "sql" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedSchema.swift")
        return [
            .buildCommand(
                displayName: "Embedding Schema/*.sql",
                executable: try context.tool(named: "schema-embedder").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
