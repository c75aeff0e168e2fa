import MastiffClients
import MastiffCore
import MastiffPolicies

/// A direct message from a bot account: POST /api/v1/statuses with visibility "direct",
/// mentioning the admin, and an Idempotency-Key so that a retry after a lost answer does not
/// post twice (docs.joinmastodon.org/methods/statuses/#create). Cut to 500 characters.
public struct MastodonReceiver: HTTPChannel {
    public let name: String
    let instanceURL: String
    let accessToken: Secret
    let to: String
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, instanceURL: String, accessToken: Secret, to: String, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.instanceURL = instanceURL
        self.accessToken = accessToken
        self.to = to
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        var text = "\(to) \(format.title(notification))\n" + format.body(notification)
        if text.count > 500 { text = String(text.prefix(499)) + "…" }
        return ReceiverHTTP.jsonRequest(.object(["status": .string(text), "visibility": .string("direct")]), to: instanceURL + "/api/v1/statuses",
                                       headers: ["Authorization: Bearer \(accessToken.reveal())",
                                                 "Idempotency-Key: mastiff-\(notification.id)-\(Int(notification.createdAt))"], caFile: caFile)
    }
}
