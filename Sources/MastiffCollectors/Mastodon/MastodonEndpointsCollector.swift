import MastiffClients
import MastiffCore

/// Mastodon's own Prometheus endpoints — streaming's /metrics (4.2+), the prometheus_exporter
/// of web and Sidekiq (4.4+, port 9394) — fetched at scrape time with libcurl, all at once, and
/// re-exposed under `mastodon_` with a `source` label naming the endpoint. An endpoint that is
/// down, slow or serves something unparseable gives `mastiff_target_up{target} 0`; the other
/// endpoints and the scrape go on.
public struct MastodonEndpointsCollector: Collector {
    public let name = "mastodon_endpoints"
    private let endpoints: [MastodonEndpoint]
    private let client: CurlHTTPClient

    public init(endpoints: [MastodonEndpoint], collectorTimeout: Duration) {
        self.endpoints = endpoints
        client = CurlHTTPClient(timeoutMilliseconds: SourceDeadline.milliseconds(within: collectorTimeout), maxBodyBytes: 16 << 20)
    }

    static let upHelp = "Whether the last fetch of a Mastodon Prometheus endpoint (collectors.mastodon_endpoints) succeeded and parsed."

    public func collect(into sink: MetricSink) async throws {
        let client = client
        let results = await withTaskGroup(of: (Int, Result<[MetricFamily], EndpointError>).self) { group in
            for (index, endpoint) in endpoints.enumerated() {
                group.addTask { (index, await Self.fetch(endpoint, client: client)) }
            }
            var results: [(Int, Result<[MetricFamily], EndpointError>)] = []
            for await result in group { results.append(result) }
            return results.sorted { $0.0 < $1.0 }
        }
        sink.declare("mastiff_target_up", help: Self.upHelp, type: .gauge)
        var outputs: [(MastodonEndpoint, [MetricFamily])] = []
        for (index, result) in results {
            let endpoint = endpoints[index]
            switch result {
            case .success(let families):
                sink.gauge("mastiff_target_up", help: Self.upHelp, 1, labels: [Label("target", endpoint.name)])
                outputs.append((endpoint, families))
            case .failure(let failure):
                sink.gauge("mastiff_target_up", help: Self.upHelp, 0, labels: [Label("target", endpoint.name)])
                sink.recordError(reason: failure.reason)
            }
        }
        let (families, conflicts) = MastodonEndpointFamilies.merge(outputs.map { ($0.0.name, $0.1) })
        if conflicts > 0 { sink.recordError(reason: "type_conflict", count: conflicts) }
        for family in families { sink.add(family) }
    }

    struct EndpointError: Error {
        let reason: String
    }

    private static func fetch(_ endpoint: MastodonEndpoint, client: CurlHTTPClient) async -> Result<[MetricFamily], EndpointError> {
        let response: HTTPResponse
        do {
            response = try await client.get(endpoint.url, headers: ["Accept: text/plain;version=0.0.4"], acceptCompressed: true)
        } catch {
            return .failure(EndpointError(reason: "unreachable"))
        }
        guard response.status == 200 else { return .failure(EndpointError(reason: "http_status")) }
        do {
            return .success(try PrometheusTextParser.parse(response.text))
        } catch {
            return .failure(EndpointError(reason: "unparseable"))
        }
    }
}

/// Renaming and merging the endpoints' families. Pure.
public enum MastodonEndpointFamilies {
    /// Each family renamed into `mastodon_` (kept if already there; a counter also gets the
    /// `_total` promtool asks for), each sample labelled `source="<endpoint>"` (a `source` label
    /// of its own becomes `exported_source`), and families of one name from several endpoints
    /// merged. A family whose type differs from an earlier one of the same name is dropped and
    /// counted.
    public static func merge(_ inputs: [(source: String, families: [MetricFamily])]) -> (families: [MetricFamily], conflicts: Int) {
        var merged: [MetricFamily] = []
        var indexByName: [String: Int] = [:]
        var conflicts = 0
        for (source, families) in inputs {
            for family in families {
                var name = family.name.hasPrefix("mastodon_") ? family.name : "mastodon_" + family.name
                if family.type == .counter, !name.hasSuffix("_total") { name += "_total" }
                let samples = family.samples.map { sample in
                    var labels = sample.labels.map { $0.name == "source" ? Label("exported_source", $0.value) : $0 }
                    labels.insert(Label("source", source), at: 0)
                    return Sample(suffix: sample.suffix, labels: labels, value: sample.value)
                }
                if let index = indexByName[name] {
                    guard merged[index].type == family.type else {
                        conflicts += 1
                        continue
                    }
                    merged[index].samples.append(contentsOf: samples)
                } else {
                    indexByName[name] = merged.count
                    merged.append(MetricFamily(name: name, help: family.help.isEmpty ? "From Mastodon's \(family.name)." : family.help,
                                               type: family.type, samples: samples))
                }
            }
        }
        return (merged, conflicts)
    }
}
