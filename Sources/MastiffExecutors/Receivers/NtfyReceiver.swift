import MastiffClients
import MastiffCore
import MastiffPolicies

/// ntfy: POST the message text to the topic URL with Title, Priority and Tags headers and an
/// optional bearer token (docs.ntfy.sh/publish). Firing critical alerts default to priority
/// high, resolved notices to low.
public struct NtfyReceiver: HTTPChannel {
    public let name: String
    let topicURL: String
    let token: Secret?
    let priority: String?
    let tags: [String]
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, topicURL: String, token: Secret?, priority: String?, tags: [String], caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.topicURL = topicURL
        self.token = token
        self.priority = priority
        self.tags = tags
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        let critical = notification.firing.contains { $0.labels.value(of: "severity") == "critical" }
        let chosen = priority ?? (notification.status == .resolved ? "low" : critical ? "high" : "default")
        var headers = ["Title: \(format.title(notification).replacingControlCharacters)", "Priority: \(chosen)",
                       "Tags: " + (tags + [notification.status == .firing ? "rotating_light" : "white_check_mark"]).joined(separator: ",")]
        if let token { headers.append("Authorization: Bearer \(token.reveal())") }
        return HTTPRequest(method: "POST", url: topicURL, headers: headers + ["Content-Type: text/plain; charset=utf-8"],
                                                   caFile: caFile, body: Array(format.body(notification).utf8))
    }
}
