import Foundation

// Usage: schema-embedder OUTPUT.swift MIGRATION.sql...
// Writes `embeddedMigrations`, the SQL files in order, as raw string literals.
let args = CommandLine.arguments.dropFirst()
guard let output = args.first else {
    FileHandle.standardError.write(Data("usage: schema-embedder OUTPUT.swift FILE.sql...\n".utf8))
    exit(2)
}
var swift = "// Generated from Schema/*.sql by schema-embedder. Do not edit.\n"
swift += "let embeddedMigrations: [(name: String, sql: String)] = [\n"
for path in args.dropFirst() {
    let url = URL(fileURLWithPath: path)
    let sql = try String(contentsOf: url, encoding: .utf8)
    // Pick a raw-string delimiter that cannot occur in the SQL.
    var hashes = "#"
    while sql.contains("\"" + hashes) { hashes += "#" }
    let name = url.deletingPathExtension().lastPathComponent
    swift += "    (name: \"\(name)\", sql: \(hashes)\"\"\"\n\(sql)\n\"\"\"\(hashes)),\n"
}
swift += "]\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
