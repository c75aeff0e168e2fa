import MastiffClients
import MastiffCore
import MastiffPolicies

/// Telegram Bot API sendMessage: POST {api}/bot{token}/sendMessage with {"chat_id", "text"},
/// text at most 4096 characters (core.telegram.org/bots/api#sendmessage).
public struct TelegramReceiver: HTTPChannel {
    public let name: String
    let botToken: Secret
    let chatID: String
    let apiURL: String
    let caFile: String?
    public let timeout: Duration
    let format: MessageFormat

    public init(name: String, botToken: Secret, chatID: String, apiURL: String, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.botToken = botToken
        self.chatID = chatID
        self.apiURL = apiURL
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public func request(for notification: Notification) -> HTTPRequest {
        var text = format.title(notification) + "\n" + format.body(notification)
        if text.count > 4096 { text = String(text.prefix(4095)) + "…" }
        let chat: JSONValue = Int64(chatID).map { .number(Double($0)) } ?? .string(chatID)
        return ReceiverHTTP.jsonRequest(.object(["chat_id": chat, "text": .string(text), "disable_web_page_preview": .bool(true)]),
                                       to: "\(apiURL)/bot\(botToken.reveal())/sendMessage", caFile: caFile)
    }
}
