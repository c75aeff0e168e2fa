import MastiffClients
import MastiffCore
import MastiffPolicies

/// Discord webhook: POST {"content": …, "username": "mastiff"}, content at most 2000
/// characters (discord.com/developers/docs/resources/webhook#execute-webhook).
public struct DiscordReceiver: NotificationReceiver {
    public let name: String
    let webhookURL: Secret
    let caFile: String?
    let timeout: Duration
    let host: String

    public init(name: String, webhookURL: Secret, caFile: String?, timeout: Duration, host: String) {
        self.name = name
        self.webhookURL = webhookURL
        self.caFile = caFile
        self.timeout = timeout
        self.host = host
    }

    public func deliver(_ notification: Notification) async -> DeliveryResult {
        var text = "**\(NotificationText.title(notification))**\n" + NotificationText.body(notification, host: host)
        if text.count > 2000 { text = String(text.prefix(1999)) + "…" }
        return await ReceiverHTTP.json(.object(["content": .string(text), "username": .string("mastiff")]), to: webhookURL.reveal(),
                                       caFile: caFile, timeout: timeout)
    }
}
