import MastiffClients
import MastiffCore
import MastiffPolicies

/// Pushes alerts into Alertmanagers: POST /api/v2/alerts (prometheus/alertmanager
/// docs/alerts_api.md), firing ones with `endsAt` 3 minutes ahead and re-sent every minute,
/// resolved ones with their `endsAt` for 5 minutes. Alertmanager's own routing, grouping,
/// silences and HA then apply. Sent to every URL; delivered when one accepted.
public struct AlertmanagerReceiver: Sendable {
    public let name: String
    let urls: [String]
    let caFile: String?
    let timeout: Duration
    let transport: any HTTPTransport
    let externalURL: String

    public init(name: String, urls: [String], caFile: String?, timeout: Duration, externalURL: String = "",
                transport: any HTTPTransport = CurlTransport()) {
        self.transport = transport
        self.name = name
        self.urls = urls
        self.caFile = caFile
        self.timeout = timeout
        self.externalURL = externalURL
    }

    public static func payload(_ alerts: [NotifiedAlert], now: Double, externalURL: String) -> JSONValue {
        .array(alerts.map { alert in
            .object([
                "labels": NotificationText.labelsObject(alert.labels),
                "annotations": NotificationText.labelsObject(alert.annotations),
                "startsAt": .string(NotificationText.rfc3339(alert.startsAt)),
                "endsAt": .string(NotificationText.rfc3339(alert.status == .resolved ? max(alert.endsAt ?? now, alert.startsAt) : now + 180)),
                "generatorURL": .string(externalURL),
            ])
        })
    }

    /// Posts to every URL at once (Alertmanager's advice for a cluster: each instance gets every
    /// alert and the cluster deduplicates), so a member that hangs delays no other.
    public func push(_ alerts: [NotifiedAlert], now: Double) async -> DeliveryResult {
        let body = Self.payload(alerts, now: now, externalURL: externalURL)
        let outcomes = await withTaskGroup(of: DeliveryResult.self) { group in
            for url in urls {
                group.addTask {
                    await ReceiverHTTP.send(ReceiverHTTP.jsonRequest(body, to: url + "/api/v2/alerts", caFile: caFile), timeout: timeout,
                                            transport: transport)
                }
            }
            return await group.reduce(into: [DeliveryResult]()) { $0.append($1) }
        }
        if let delivered = outcomes.first(where: { if case .delivered = $0 { return true } else { return false } }) { return delivered }
        return outcomes.first { if case .failed = $0 { return true } else { return false } } ?? outcomes.first ?? .failed(reason: "no Alertmanager URL")
    }
}
