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
        // libauparse, the audit project's own log parser, and libaudit, whose syscall tables
        // name a seccomp kill's syscall (Debian: libauparse-dev, libaudit-dev).
        .systemLibrary(
            name: "CAuparse",
            pkgConfig: "auparse",
            providers: [.apt(["libauparse-dev", "libaudit-dev"])]
        ),
        // SQLite's C API for what GRDB does not offer: a sandboxed, streaming connection
        // for `killdb sql`, rows bound without per-row overhead (Debian: libsqlite3-dev, the
        // library GRDB links too).
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // libbpf, to load the tracer's BPF program (Debian: libbpf-dev).
        .systemLibrary(
            name: "CLibbpf",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        // libaudit, for `killdb trace --audit`'s user-space audit messages (Debian: libaudit-dev).
        .systemLibrary(
            name: "CLibaudit",
            pkgConfig: "audit",
            providers: [.apt(["libaudit-dev"])]
        ),
        // Decoding audit records: arches, syscalls, signals, field encodings, SignalEvent.
        .target(name: "AuditDecoding", dependencies: ["CAuparse"]),
        // Audit logs: record headers, the signal-record pre-filter, serial gaps; reading log
        // files (rotation order, decompression, streaming lines, fingerprints).
        .target(name: "AuditLog", dependencies: ["AuditDecoding"]),
        // Kernel logs: /dev/kmsg, journal, syslog and dmesg lines; the kernel's and systemd's kills.
        .target(name: "KernelLog", dependencies: ["AuditDecoding", "AuditLog"]),
        // The kernel's own record of each signal: what `killdb trace` records.
        .target(name: "KernelTrace"),
        // The tracer: the BPF program on signal:signal_generate (Sources/TracerBPF, compiled
        // with clang for the bpf target and embedded at build time), loaded with libbpf.
        .target(
            name: "Tracer",
            dependencies: ["CLibbpf", "CLibaudit", "KernelTrace", "AuditDecoding"],
            plugins: ["EmbedBPF"]
        ),
        // The one event pipeline every source feeds: lines in, one batch to store out.
        .target(name: "Pipeline", dependencies: ["AuditDecoding", "AuditLog", "KernelLog", "KernelTrace"]),
        // Where a process lives and where it came from: cgroup paths read as units,
        // containers and pods; a process's chain of parents from /proc.
        .target(name: "ProcessContext"),
        // The SQLite store; its schema is Schema/*.sql, embedded at build time.
        .target(
            name: "Store",
            dependencies: ["AuditDecoding", "AuditLog", "KernelLog", "KernelTrace", "Pipeline", "ProcessContext", "CSQLite", .product(name: "GRDB", package: "GRDB.swift")],
            plugins: ["EmbedSchema"]
        ),
        // The library the CLI and tests call: the sources (file ingest, the plugin's stream,
        // kernel logs, the tracer) feeding the pipeline and the store.
        .target(name: "KillDB", dependencies: ["AuditDecoding", "AuditLog", "KernelLog", "KernelTrace", "Pipeline", "ProcessContext", "Quantities", "Store", "Tracer"]),
        // Questions asked of the database: who, report, ad hoc SQL.
        .target(name: "Queries", dependencies: ["AuditDecoding", "KernelLog", "ProcessContext", "Store", "CSQLite", .product(name: "GRDB", package: "GRDB.swift")]),
        // Times and durations as operators type them on the command line (--before, --since,
        // --window), in killdb's, ausearch's and journalctl's forms.
        .target(name: "TimeArguments", dependencies: ["AuditDecoding"]),
        // Audit rules: generating killdb's rules, installing them, linting the loaded ones.
        .target(name: "AuditRules", dependencies: ["AuditDecoding"]),
        // Sizes and durations as an operator reads them, for every command's text.
        .target(name: "Quantities"),
        // Health checks of the whole chain, for killdb doctor.
        .target(name: "Doctor", dependencies: ["AuditDecoding", "AuditLog", "AuditRules", "Quantities", "Store", "Tracer", .product(name: "GRDB", package: "GRDB.swift")]),
        // Output: text that is safe on a terminal, reports, tables, JSON and CSV.
        .target(name: "Output", dependencies: ["AuditDecoding", "Doctor", "KernelLog", "KillDB", "Quantities", "Queries"]),
        .executableTarget(
            name: "killdb",
            dependencies: ["KillDB", "Store", "Queries", "TimeArguments", "AuditRules", "Doctor", "Output", "Quantities", "KernelTrace", "Tracer", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Build-time tool: turns Schema/*.sql into Swift string literals.
        .executableTarget(name: "schema-embedder"),
        .plugin(name: "EmbedSchema", capability: .buildTool(), dependencies: ["schema-embedder"]),
        // Build-time tool: turns the compiled BPF objects into Swift string literals.
        .executableTarget(name: "bpf-embedder"),
        .plugin(name: "EmbedBPF", capability: .buildTool(), dependencies: ["bpf-embedder"]),
        .testTarget(
            name: "KillDBTests",
            dependencies: ["KillDB", "AuditDecoding", "AuditLog", "KernelLog", "Pipeline", "Store", "Queries", "TimeArguments", "AuditRules", "Doctor", "Output",
                           "KernelTrace", "Tracer", "ProcessContext",
                           .product(name: "GRDB", package: "GRDB.swift")]
        ),
    ]
)
