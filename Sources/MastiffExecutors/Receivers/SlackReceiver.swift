import MastiffClients
import MastiffCore
import MastiffPolicies

/// Slack incoming webhook: POST {"text": …} (api.slack.com/messaging/webhooks).
public struct SlackReceiver: HTTPChannel {
    public let name: String
    let webhookURL: Secret
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, webhookURL: Secret, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.webhookURL = webhookURL
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        let text = "*\(format.title(notification))*\n" + format.body(notification)
        return ReceiverHTTP.jsonRequest(.object(["text": .string(text)]), to: webhookURL.reveal(), caFile: caFile)
    }
}
