import MastiffClients
import MastiffCore
import MastiffPolicies

/// Slack incoming webhook: POST {"text": …} (api.slack.com/messaging/webhooks).
public struct SlackReceiver: NotificationReceiver {
    public let name: String
    let webhookURL: Secret
    let caFile: String?
    let timeout: Duration
    let format: MessageFormat

    public init(name: String, webhookURL: Secret, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.webhookURL = webhookURL
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func deliver(_ notification: Notification) async -> DeliveryResult {
        let text = "*\(format.title(notification))*\n" + format.body(notification)
        return await ReceiverHTTP.json(.object(["text": .string(text)]), to: webhookURL.reveal(), caFile: caFile, timeout: timeout)
    }
}
