import MastiffClients
import MastiffCore
import MastiffPolicies

/// Gotify: POST {url}/message with {"title", "message", "priority"} and the application token
/// in X-Gotify-Key (gotify.net/api-docs#/message/createMessage).
public struct GotifyReceiver: HTTPChannel {
    public let name: String
    let url: String
    let token: Secret
    let priority: Int
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, url: String, token: Secret, priority: Int, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.url = url
        self.token = token
        self.priority = priority
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        let body: JSONValue = .object(["title": .string(format.title(notification)),
                                       "message": .string(format.body(notification)),
                                       "priority": .number(Double(notification.status == .resolved ? min(priority, 2) : priority))])
        return ReceiverHTTP.jsonRequest(body, to: url + "/message", headers: ["X-Gotify-Key: \(token.reveal())"], caFile: caFile)
    }
}
