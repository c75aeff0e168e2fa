import MastiffClients
import MastiffCore
import MastiffPolicies

/// Alertmanager's webhook payload, version 4, so any consumer of Alertmanager webhooks works
/// (prometheus/alertmanager docs/configuration.md, `<webhook_config>`).
public struct WebhookReceiver: HTTPChannel {
    public let name: String
    let url: Secret
    let bearerToken: Secret?
    let caFile: String?
    public let timeout: Duration
    let externalURL: String

    public init(name: String, url: Secret, bearerToken: Secret?, caFile: String?, timeout: Duration, externalURL: String = "") {
        self.name = name
        self.url = url
        self.bearerToken = bearerToken
        self.caFile = caFile
        self.timeout = timeout
        self.externalURL = externalURL
    }

    public static func payload(_ notification: Notification, receiver: String, externalURL: String) -> JSONValue {
        func common(_ pick: (NotifiedAlert) -> [Label]) -> [Label] {
            guard let first = notification.alerts.first else { return [] }
            return pick(first).filter { label in notification.alerts.allSatisfy { pick($0).contains(label) } }
        }
        return .object([
            "version": .string("4"),
            "groupKey": .string("{}:" + notification.groupKey),
            "truncatedAlerts": .number(0),
            "status": .string(notification.status.rawValue),
            "receiver": .string(receiver),
            "groupLabels": NotificationText.labelsObject(notification.groupLabels),
            "commonLabels": NotificationText.labelsObject(common { $0.labels }),
            "commonAnnotations": NotificationText.labelsObject(common { $0.annotations }),
            "externalURL": .string(externalURL),
            "alerts": .array(notification.alerts.map { alert in
                .object([
                    "status": .string(alert.status.rawValue),
                    "labels": NotificationText.labelsObject(alert.labels),
                    "annotations": NotificationText.labelsObject(alert.annotations),
                    "startsAt": .string(NotificationText.rfc3339(alert.startsAt)),
                    "endsAt": .string(NotificationText.rfc3339(alert.status == .resolved ? alert.endsAt : nil)),
                    "generatorURL": .string(externalURL),
                    "fingerprint": .string(alert.fingerprint),
                ])
            }),
        ])
    }

    public func request(for notification: Notification) -> HTTPRequest {
        let headers = bearerToken.map { ["Authorization: Bearer \($0.reveal())"] } ?? []
        return ReceiverHTTP.jsonRequest(Self.payload(notification, receiver: name, externalURL: externalURL), to: url.reveal(), headers: headers, caFile: caFile)
    }
}
