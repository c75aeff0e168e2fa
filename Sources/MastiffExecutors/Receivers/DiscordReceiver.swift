import MastiffClients
import MastiffCore
import MastiffPolicies

/// Discord webhook: POST {"content": …, "username": "mastiff"}, content at most 2000
/// characters (discord.com/developers/docs/resources/webhook#execute-webhook).
public struct DiscordReceiver: HTTPChannel {
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
        var text = "**\(format.title(notification))**\n" + format.body(notification)
        if text.count > 2000 { text = String(text.prefix(1999)) + "…" }
        return ReceiverHTTP.jsonRequest(.object(["content": .string(text), "username": .string("mastiff")]), to: webhookURL.reveal(), caFile: caFile)
    }
}
