// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "killdb",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "killdb", targets: ["killdb"]),
        .library(name: "KillDB", targets: ["KillDB"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        // libauparse, the audit project's own log parser (Debian: libauparse-dev).
        .systemLibrary(
            name: "CAuparse",
            pkgConfig: "auparse",
            providers: [.apt(["libauparse-dev"])]
        ),
        // Decoding audit records: arches, syscalls, signals, field encodings, SignalEvent.
        .target(name: "AuditDecoding", dependencies: ["CAuparse"]),
        // Reading logs: rotation order, streaming lines, the signal-record pre-filter, checkpoints.
        .target(name: "AuditLog", dependencies: ["AuditDecoding"]),
        // The SQLite store; its schema is Schema/*.sql, embedded at build time.
        .target(
            name: "Store",
            dependencies: ["AuditDecoding", "AuditLog", .product(name: "GRDB", package: "GRDB.swift")],
            plugins: ["EmbedSchema"]
        ),
        // The library the CLI and tests call: ingest.
        .target(name: "KillDB", dependencies: ["AuditDecoding", "AuditLog", "Store"]),
        // Questions asked of the database: who, report, ad hoc SQL; time expressions.
        .target(name: "Queries", dependencies: ["AuditDecoding", "Store", .product(name: "GRDB", package: "GRDB.swift")]),
        // Audit rules: generating killdb's rules, installing them, linting the loaded ones.
        .target(name: "AuditRules", dependencies: ["AuditDecoding"]),
        // Health checks of the whole chain, for killdb doctor.
        .target(name: "Doctor", dependencies: ["AuditRules", "Store", .product(name: "GRDB", package: "GRDB.swift")]),
        // Output: text that is safe on a terminal, reports, tables, JSON and CSV.
        .target(name: "Output", dependencies: ["KillDB", "Queries"]),
        .executableTarget(
            name: "killdb",
            dependencies: ["KillDB", "Store", "Queries", "AuditRules", "Doctor", "Output", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Build-time tool: turns Schema/*.sql into Swift string literals.
        .executableTarget(name: "schema-embedder"),
        .plugin(name: "EmbedSchema", capability: .buildTool(), dependencies: ["schema-embedder"]),
        .testTarget(
            name: "KillDBTests",
            dependencies: ["KillDB", "AuditDecoding", "AuditLog", "Store", "Queries", "AuditRules", "Doctor", "Output",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
