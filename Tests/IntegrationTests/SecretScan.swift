import Foundation
import MastiffClients
import MastiffCore
import Testing

/// What mastiff wrote, searched for the secrets a test configured: logs, CLI output, /metrics,
/// the status endpoints, state files, and every command line on the host (what any local user
/// sees in `ps`). A secret counts in any form it could take on the way out: as is,
/// percent-encoded, JSON-escaped. Secrets shorter than 6 characters are refused: they would
/// match by chance, and a test that configures one proves nothing.
struct SecretScan {
    private var secrets: [(name: String, forms: [String])] = []
    private var outputs: [(source: String, text: String)] = []

    init(_ secrets: [String: String]) {
        for (name, value) in secrets.sorted(by: { $0.key < $1.key }) { add(secret: value, as: name) }
    }

    /// The secrets of the private services (scripts/services.sh) and of the test manifest key.
    static func ofTestServices() -> SecretScan {
        var secrets = ["the backup manifest key": BackupIntegrationTests.manifestKey]
        for (name, variable) in [("the PostgreSQL password", "MASTIFF_TEST_PG_PASSWORD"), ("the S3 secret key", "MASTIFF_TEST_S3_SECRET_KEY")] {
            if let value = ProcessInfo.processInfo.environment[variable] { secrets[name] = value }
        }
        return SecretScan(secrets)
    }

    /// Every secret a configuration file holds, found the way mastiff finds them: the file is loaded
    /// with the loader and every `Secret` in the result is taken (a connection string gives its
    /// passwords, not its host or user). Nil when the file does not load (a test of a broken file).
    static func ofConfiguration(at path: String, environment: [String: String] = [:]) -> SecretScan? {
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        guard let config = try? ConfigLoader.load(.file(path), environment: { merged[$0] }) else { return nil }
        var scan = ofTestServices()
        scan.stateFile = config.stateDirectory + "/" + StateStore.fileName
        var found: [String] = []
        collectSecrets(in: config, depth: 0, into: &found)
        for value in Set(found) {
            let looksLikeConnectionString = value.hasPrefix("postgres") || ["host=", "dbname=", "user=", "port="].contains { value.contains($0) }
            for secret in looksLikeConnectionString ? ConnectionStringSecrets.values(in: value) : [value] where secret.count >= 6 {
                scan.add(secret: secret, as: "a configured secret (\(secret.count) characters)")
            }
        }
        return scan
    }

    /// The secrets of a mastiff command line: of the configuration its `--config` (or
    /// MASTIFF_CONFIG) names, else of the test services alone.
    static func ofCommand(_ arguments: [String], environment: [String: String]) -> SecretScan {
        let path = arguments.firstIndex(of: "--config").flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
            ?? environment["MASTIFF_CONFIG"]
        return path.flatMap { ofConfiguration(at: $0, environment: environment) } ?? ofTestServices()
    }

    private static func collectSecrets(in value: Any, depth: Int, into found: inout [String]) {
        if let secret = value as? Secret { found.append(secret.reveal()); return }
        guard depth < 16 else { return }
        for child in Mirror(reflecting: value).children { collectSecrets(in: child.value, depth: depth + 1, into: &found) }
    }

    /// The agent's state file, when the scan came from a configuration.
    private(set) var stateFile: String?

    /// Records every leak as a test issue naming where it was found.
    func recordLeaks(_ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for leak in leaks() { Issue.record("\(what): \(leak)", sourceLocation: sourceLocation) }
    }

    mutating func add(secret value: String, as name: String) {
        precondition(value.count >= 6, "\(name): a secret this short would match by chance")
        var forms = [value]
        if let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != value { forms.append(encoded) }
        // JSON, with "/" escaped (Foundation's way) and not (mastiff's).
        for options in [JSONEncoder.OutputFormatting(), .withoutEscapingSlashes] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = options
            if let json = try? encoder.encode(value), let text = String(data: json, encoding: .utf8) {
                let inner = String(text.dropFirst().dropLast())
                if !forms.contains(inner) { forms.append(inner) }
            }
        }
        guard !secrets.contains(where: { $0.forms == forms }) else { return }
        secrets.append((name, forms))
    }

    mutating func add(_ source: String, _ text: String) { outputs.append((source, text)) }

    mutating func add(_ source: String, _ result: Harness.Result) {
        add(source + " (stdout)", result.stdout)
        add(source + " (stderr)", result.stderr)
    }

    /// A file mastiff wrote (a state file, a spool), if it exists.
    mutating func add(file path: String) {
        if let data = FileManager.default.contents(atPath: path) { add(path, String(decoding: data, as: UTF8.self)) }
    }

    /// Every process's command line now, as any local user reads them; with `root`, only that
    /// process's and its descendants' (a test's own fixtures may carry a secret as an argument).
    mutating func addCommandLines(under root: pid_t? = nil) {
        let pids = Harness.processes()
        var parents: [pid_t: pid_t] = [:]
        for pid in pids { parents[pid] = Harness.parent(of: pid) }
        func isUnderRoot(_ pid: pid_t) -> Bool {
            guard let root else { return true }
            var current: pid_t? = pid
            for _ in 0..<64 {
                guard let this = current, this > 1 else { return false }
                if this == root { return true }
                current = parents[this]
            }
            return false
        }
        for pid in pids where isUnderRoot(pid) {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), !data.isEmpty else { continue }
            add("the command line of pid \(pid)", String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\0", with: " "))
        }
    }

    /// A running agent's log and everything it serves over HTTP.
    mutating func add(_ mastiff: RunningMastiff) async {
        add("mastiff's log", mastiff.log)
        for path in ["/metrics", "/api/v1/status", "/", "/healthz"] {
            if let response = try? await CurlHTTPClient(timeoutMilliseconds: 10_000).get(mastiff.baseURL + path) { add(path, response.text) }
        }
    }

    /// Each secret found, where, with a little context (the secret itself masked).
    func leaks() -> [String] {
        var found: [String] = []
        for (source, text) in outputs {
            for (name, forms) in secrets {
                for form in forms {
                    guard let range = text.range(of: form) else { continue }
                    let before = String(text[..<range.lowerBound].suffix(40))
                    let after = String(text[range.upperBound...].prefix(40))
                    found.append("\(name) in \(source): …\(before)<SECRET>\(after)…")
                    break
                }
            }
        }
        return found
    }
}

/// The scan itself: a scan that finds nothing proves nothing unless it finds what is there.
@Suite struct SecretScanTests {
    @Test func findsASecretInEachFormItCanTakeAndNothingElse() {
        let secret = #"p@ss "word"/x"#
        for (text, found) in [("dsn password=\(secret) host", true), ("uri :p%40ss%20%22word%22%2Fx@", true), (#"{"k":"p@ss \"word\"/x"}"#, true),
                              ("password=<redacted>", false), ("p@ss word", false)] {
            var scan = SecretScan(["the password": secret])
            scan.add("output", text)
            #expect(scan.leaks().isEmpty != found, "\(text)")
            if found { #expect(scan.leaks().first?.hasPrefix("the password in output: …") == true && scan.leaks().first?.contains(secret) == false) }
        }
        var commandLines = SecretScan(["a marker": "secret-scan-self-test"])
        commandLines.addCommandLines()
        #expect(commandLines.leaks().isEmpty, "no process carries it")
    }
}
