// swift-tools-version:6.0
// mastiff: a watchdog for Mastodon servers. Targets are layered from C bindings up to the CLI:
//   C* (system libraries) → MastiffCore → MastiffClients / MastiffCollectors / MastiffStatsd
//   → MastiffPromQL → MastiffPolicies (no I/O) → MastiffExecutors → MastiffAgent / MastiffServer → mastiff
// docs/architecture.md shows the pipeline and which target holds what.
import Foundation
import PackageDescription

// The benchmark executables (bench/*.sh) build only when MASTIFF_BENCHMARKS=1: a plain
// `swift build` builds mastiff and its tests, nothing else.
let benchmarks = ProcessInfo.processInfo.environment["MASTIFF_BENCHMARKS"] == "1"
// The libFuzzer driver builds only when MASTIFF_FUZZ=1 (scripts/fuzz.sh, with -sanitize=fuzzer).
let fuzzing = ProcessInfo.processInfo.environment["MASTIFF_FUZZ"] == "1"

let benchmarkTargets: [Target] = [
        // CPU per statsd line inside mastiff (bench/statsd.sh runs it in release mode).
        .executableTarget(
            name: "statsd-pipeline-bench",
            dependencies: ["MastiffStatsd", "MastiffCore"],
            path: "bench/StatsdPipelineBench"
        ),

        // One evaluation cycle of the built-in rules, their loading and history (bench/rules.sh).
        .executableTarget(
            name: "rules-bench",
            dependencies: ["MastiffAgent", "MastiffPolicies", "MastiffPromQL", "MastiffCore", .product(name: "Logging", package: "swift-log")],
            path: "bench/RulesBench"
        ),

        // The notification queue's state file size and reload time (bench/notifications.sh).
        .executableTarget(
            name: "notify-bench",
            dependencies: ["MastiffPolicies", "MastiffPromQL", "MastiffCore", .product(name: "Logging", package: "swift-log")],
            path: "bench/NotifyBench"
        ),

        // The status page's render time and history memory after a day of samples (bench/status-page.sh).
        .executableTarget(
            name: "status-page-bench",
            dependencies: ["MastiffAgent", "MastiffServer", "MastiffCore", .product(name: "Logging", package: "swift-log")],
            path: "bench/StatusPageBench"
        ),

        // The federation scan's cost per collection on a Redis of many keys (bench/mastodon-health.sh).
        .executableTarget(name: "mastodon-health-bench", dependencies: ["MastiffCollectors", "MastiffCore"], path: "bench/MastodonHealthBench"),

        // One restart-policy cycle over 500 processes (bench/restarts.sh).
        .executableTarget(name: "restart-bench", dependencies: ["MastiffPolicies", "MastiffCore"], path: "bench/RestartBench"),
]

let package = Package(
    name: "mastiff",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mastiff", targets: ["mastiff"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // System libraries. Each module map carries a small shim header with typed wrappers for the
        // variadic C calls Swift cannot import (curl_easy_setopt, deflateInit2, …).
        // libpq and libcurl are loaded on first use (dlopen), not linked: see their shim.h.
        .systemLibrary(name: "CLibPQ", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CCurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CYAML", pkgConfig: "yaml-0.1", providers: [.apt(["libyaml-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // libxcrypt's crypt_r: bcrypt for the web configuration's basic auth users.
        .systemLibrary(name: "CCrypt", providers: [.apt(["libcrypt-dev"])]),
        // recvmmsg(2), which Swift's Glibc module does not expose (it needs _GNU_SOURCE).
        .systemLibrary(name: "CSocketShim"),
        // RE2 (Debian's libre2) behind a C face: Go's regexp syntax and semantics in linear time,
        // for everything Prometheus or statsd_exporter would read as Go (docs/adr/0020).
        .target(name: "CRE2", linkerSettings: [.linkedLibrary("re2")]),

        // Metric model, exposition, collector contract, configuration, logging. No Foundation.
        .target(
            name: "MastiffCore",
            dependencies: [
                "CRE2",
                "CYAML",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Thin clients over libpq, hiredis and libcurl: one owner per handle, redacted errors.
        .target(
            name: "MastiffClients",
            dependencies: ["CLibPQ", "CHiredis", "CCurl", "CCrypto", "MastiffCore"]
        ),
        // One file per source; pure parsers beside each collector.
        .target(
            name: "MastiffCollectors",
            dependencies: ["MastiffCore", "MastiffClients"]
        ),
        // statsd bridge: listeners, line parser, statsd_exporter-compatible mapper, series store.
        .target(
            name: "MastiffStatsd",
            dependencies: [
                "MastiffCore", "CSocketShim",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The running agent and its composition root (`Agent`): the collectors built from the
        // configuration, the sampler, the sample pipeline, the services, reload. A library, so
        // that it is unit-tested.
        .target(
            name: "MastiffAgent",
            dependencies: [
                "MastiffCore", "MastiffCollectors", "MastiffStatsd", "MastiffPolicies", "MastiffPromQL", "MastiffExecutors", "MastiffClients", "MastiffServer", "CSocketShim",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // PromQL (the subset docs/alerting.md lists) and Prometheus's alert templates: parser and
        // evaluator over any series storage. Pure: no I/O, no clock.
        .target(name: "MastiffPromQL", dependencies: ["MastiffCore"]),
        // Pure decisions (alert rules, restart policy, schedules): no clients, no I/O, so a
        // policy cannot do I/O by accident.
        .target(name: "MastiffPolicies", dependencies: ["MastiffCore", "MastiffPromQL"]),
        // Side effects a policy decided (notify, restart, back up): above the clients.
        .target(name: "MastiffExecutors", dependencies: ["MastiffPolicies", "MastiffPromQL", "MastiffClients", "MastiffCore", "CSocketShim"]),
        // What tests share: a manual clock, metric lookups, an in-memory log handler.
        .target(
            name: "MastiffTestSupport",
            dependencies: ["MastiffCore", .product(name: "Logging", package: "swift-log")]
        ),
        // HTTP endpoints (/metrics, /healthz) on SwiftNIO.
        .target(
            name: "MastiffServer",
            dependencies: [
                "MastiffCore", "CZlib", "CCrypt",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // CLI and composition root.
        .executableTarget(
            name: "mastiff",
            dependencies: [
                "MastiffCore", "MastiffClients", "MastiffCollectors", "MastiffServer", "MastiffStatsd", "MastiffAgent", "MastiffPolicies", "MastiffPromQL", "MastiffExecutors",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["exported-symbols.map", "symbol-order.txt"],
            linkerSettings: [
                .unsafeFlags(
                    ["-use-ld=lld",
                     "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/mastiff/exported-symbols.map",
                     "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                     "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/mastiff/symbol-order.txt",
                     "-Xlinker", "--no-warn-symbol-ordering"],
                    .when(platforms: [.linux], configuration: .release)),
            ]
        ),

        .testTarget(name: "MastiffCoreTests", dependencies: ["MastiffCore", "MastiffTestSupport"]),
        .testTarget(name: "MastiffPromQLTests", dependencies: ["MastiffPromQL", "MastiffCore"]),
        .testTarget(name: "MastiffPoliciesTests", dependencies: ["MastiffPolicies", "MastiffPromQL", "MastiffCore", "MastiffTestSupport"]),
        .testTarget(name: "MastiffExecutorsTests", dependencies: ["MastiffExecutors", "MastiffClients", "MastiffPolicies", "MastiffCore"]),
        .testTarget(name: "MastiffClientsTests", dependencies: ["MastiffClients", "MastiffCore", "MastiffTestSupport"]),
        .testTarget(
            name: "MastiffAgentTests",
            dependencies: ["MastiffAgent", "MastiffCore", "MastiffTestSupport", "MastiffStatsd", "MastiffPolicies", "MastiffExecutors", "MastiffClients",
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        .testTarget(name: "MastiffStatsdTests", dependencies: ["MastiffStatsd", "MastiffCore", "MastiffTestSupport"], exclude: ["Fixtures"]),
        .testTarget(
            name: "MastiffCollectorsTests",
            dependencies: ["MastiffCollectors", "MastiffCore", "MastiffTestSupport"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "MastiffServerTests",
            dependencies: ["MastiffServer", "MastiffCore", "CZlib", .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")]
        ),
        // Against real services started by scripts/services.sh (PostgreSQL, Redis, promtool) and the
        // built `mastiff` binary.
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["mastiff", "MastiffClients", "MastiffCollectors", "MastiffCore", "MastiffTestSupport", "MastiffExecutors", "MastiffPolicies"],
            exclude: ["Fixtures"]
        ),
        // Every parser that takes input from outside, as one function each: what the fuzzer
        // drives and what the regression tests replay (Fuzz/Regressions).
        .target(name: "MastiffFuzzEntries", dependencies: ["MastiffCore", "MastiffStatsd", "MastiffPromQL", "MastiffPolicies", "MastiffClients", "MastiffCollectors",
                                                  "MastiffServer", "MastiffAgent", .product(name: "NIOEmbedded", package: "swift-nio"),
                                                  .product(name: "NIOHTTP1", package: "swift-nio")], path: "Fuzz/Entries"),
        .testTarget(name: "FuzzRegressionTests", dependencies: ["MastiffFuzzEntries", "MastiffTestSupport", "MastiffCore", "MastiffClients", "MastiffPolicies"]),
    ] + (benchmarks ? benchmarkTargets : [])
      + (fuzzing ? [.executableTarget(name: "mastiff-fuzz", dependencies: ["MastiffFuzzEntries"], path: "Fuzz/Driver")] : [])
)
