import MastiffClients
import MastiffCore

/// HTTP health probes of the instance (collectors.probes, or the defaults of `instance.url`):
/// all at once with libcurl, each bounded by its timeout (never longer than the collector's
/// deadline), following a redirect only within the same host. Exports blackbox_exporter's
/// names: `probe_success`, `probe_duration_seconds`, `probe_http_status_code` and, over TLS,
/// `probe_tls_certificate_expiry_timestamp_seconds`, each with a `probe` label. A failing probe
/// is a result (probe_success 0), not a collector failure.
public struct ProbeCollector: Collector {
    public let name = "probes"
    private let probes: [ProbeSpec]
    private let deadlineMilliseconds: Int
    private let clock: any MonotonicClock
    static let maxRedirects = 3

    public init(probes: [ProbeSpec], collectorTimeout: Duration, clock: any MonotonicClock = SystemMonotonicClock()) {
        self.probes = probes
        deadlineMilliseconds = SourceDeadline.milliseconds(within: collectorTimeout)
        self.clock = clock
    }

    /// What one probe found.
    public struct Outcome: Sendable, Equatable {
        public var success: Bool
        public var status: Int
        public var durationSeconds: Double
        public var certificateExpiry: Double?
        /// Why it failed, for the log and `mastiff status`.
        public var failure: String?
    }

    public func collect(into sink: MetricSink) async throws {
        let outcomes = await withTaskGroup(of: (Int, Outcome).self) { group in
            for (index, probe) in probes.enumerated() {
                group.addTask { (index, await self.run(probe)) }
            }
            var results: [(Int, Outcome)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }.map(\.1)
        }
        let help = [
            "probe_success": "Whether the probe succeeded (status, body and JSON checks passed).",
            "probe_duration_seconds": "How long the probe took, redirects included.",
            "probe_http_status_code": "HTTP status of the probe's final response; 0 when none arrived.",
            "probe_tls_certificate_expiry_timestamp_seconds": "When the server's TLS certificate expires, in seconds since the Unix epoch.",
        ]
        for name in help.keys.sorted() { sink.declare(name, help: help[name]!, type: .gauge) }
        for (probe, outcome) in zip(probes, outcomes) {
            let labels = [Label("probe", probe.name)]
            sink.gauge("probe_success", help: help["probe_success"]!, outcome.success ? 1 : 0, labels: labels)
            sink.gauge("probe_duration_seconds", help: help["probe_duration_seconds"]!, outcome.durationSeconds, labels: labels)
            sink.gauge("probe_http_status_code", help: help["probe_http_status_code"]!, Double(outcome.status), labels: labels)
            if let expiry = outcome.certificateExpiry {
                sink.gauge("probe_tls_certificate_expiry_timestamp_seconds", help: help["probe_tls_certificate_expiry_timestamp_seconds"]!,
                           expiry, labels: labels)
            }
        }
    }

    func run(_ probe: ProbeSpec) async -> Outcome {
        let started = clock.elapsed()
        let timeout = min(Int(probe.timeout.seconds * 1000), deadlineMilliseconds)
        var url = probe.url
        var outcome = Outcome(success: false, status: 0, durationSeconds: 0, certificateExpiry: nil, failure: nil)
        var response: HTTPResponse?
        var hops = 0
        while true {
            let elapsed = Int((clock.elapsed() - started).seconds * 1000)
            let remaining = timeout - elapsed
            guard remaining > 0 else {
                outcome.failure = "timed out after \(timeout) ms"
                break
            }
            var headers: [String] = []
            if let host = probe.host { headers.append("Host: \(host)") }
            let request = HTTPRequest(method: probe.method, url: url, headers: headers, caFile: probe.caFile,
                                      certificateInfo: url.hasPrefix("https://"))
            do {
                let answer = try await CurlHTTPClient(timeoutMilliseconds: remaining, maxBodyBytes: 1 << 20).send(request)
                response = answer
                if outcome.certificateExpiry == nil { outcome.certificateExpiry = answer.certificateExpiry }
                if (300...399).contains(answer.status), !probe.statusCodes.contains(answer.status), let location = answer.header("location"),
                   hops < Self.maxRedirects {
                    let next = Self.resolve(location, against: url)
                    guard Self.origin(next) == Self.origin(url) else {
                        outcome.failure = "redirected off the host to \(Self.origin(next) ?? next); not followed"
                        break
                    }
                    url = next
                    hops += 1
                    continue
                }
            } catch {
                outcome.failure = "\(error)"
            }
            break
        }
        outcome.durationSeconds = (clock.elapsed() - started).seconds
        guard let response else { return outcome }
        outcome.status = response.status
        if outcome.failure == nil { outcome.failure = Self.check(response, against: probe) }
        outcome.success = outcome.failure == nil
        return outcome
    }

    /// nil when the response is what the probe expects, else what is wrong. Pure.
    static func check(_ response: HTTPResponse, against probe: ProbeSpec) -> String? {
        let statusAccepted = probe.statusCodes.isEmpty ? (200...299).contains(response.status) : probe.statusCodes.contains(response.status)
        guard statusAccepted else { return "status \(response.status)" }
        let text = response.text
        if let expected = probe.bodyContains, !text.contains(expected) { return "body does not contain \(JSONValue.quoted(expected))" }
        if let path = probe.jsonField {
            guard let document = JSONValue.parse(text) else { return "body is not JSON" }
            var current: JSONValue? = document
            for key in path.split(separator: ".") { current = current?[String(key)] }
            let actual: String?
            switch current {
            case .string(let value)?: actual = value
            case .number(let value)?: actual = value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
            case .bool(let value)?: actual = value ? "true" : "false"
            default: actual = nil
            }
            guard let actual, !actual.isEmpty else { return "JSON field \(path) is missing or empty" }
            if let expected = probe.jsonEquals, actual != expected {
                return "JSON field \(path) is \(JSONValue.quoted(actual)), not \(JSONValue.quoted(expected))"
            }
        }
        return nil
    }

    /// scheme://host[:port] of an absolute URL, lowercased.
    static func origin(_ url: String) -> String? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        let afterScheme = url.index(colon, offsetBy: 3)
        let authority = url[afterScheme...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let hostPart = authority.split(separator: "@").last.map(String.init) ?? ""
        return (url[..<afterScheme] + hostPart).lowercased()
    }

    static func resolve(_ location: String, against base: String) -> String {
        if location.contains("://") { return location }
        guard let origin = origin(base) else { return location }
        if location.hasPrefix("/") { return origin + location }
        let path = base.dropFirst(origin.count)
        let directory = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : ""
        return origin + directory + "/" + location
    }
}
