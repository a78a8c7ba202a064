import Foundation

// Usage: bpf-embedder OUTPUT.swift OBJECT.bpf.o...
// Writes `embeddedBPFObjects`, each object's bytes as base64 (a string literal compiles in
// no time; an array literal of 60,000 numbers does not).
let args = CommandLine.arguments.dropFirst()
guard let output = args.first else {
    FileHandle.standardError.write(Data("usage: bpf-embedder OUTPUT.swift OBJECT.o...\n".utf8))
    exit(2)
}
var swift = "// Generated from Sources/TracerBPF by bpf-embedder. Do not edit.\n"
swift += "let embeddedBPFObjects: [String: String] = [\n"
for path in args.dropFirst() {
    let url = URL(fileURLWithPath: path)
    let data = try Data(contentsOf: url)
    let name = url.lastPathComponent
    swift += "    \"\(name)\": \"\(data.base64EncodedString())\",\n"
}
swift += "]\n"
try swift.write(toFile: output, atomically: true, encoding: .utf8)
