import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// E-mail over SMTP with libcurl (STARTTLS required by default, or TLS from the start, AUTH
/// when a username is set). Authentication refused and bad addresses are failures; connection
/// problems and 4xx SMTP replies are retried.
public struct EmailReceiver: NotificationReceiver {
    public let name: String
    let settings: EmailSettings
    let caFile: String?
    let timeout: Duration
    let format: MessageFormat

    public init(name: String, settings: EmailSettings, caFile: String?, timeout: Duration, format: MessageFormat) {
        self.name = name
        self.settings = settings
        self.caFile = caFile
        self.timeout = timeout
        self.format = format
    }

    public static func message(_ notification: Notification, from: String, to: [String], format: MessageFormat, now: Double) -> String {
        let dateHeader = CalendarTime.utc(now).rfc5322
        // Lines are split on every line end a value may carry (CR, LF, CRLF — one Character in
        // Swift), and what is left of control characters goes, so that text from an alert can
        // neither start a header nor end the message early.
        let body = format.body(notification).unicodeScalars.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r" }
            .map { String(String.UnicodeScalarView($0)).replacingControlCharacters }
            .map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
        return [
            "From: mastiff <\(from.replacingControlCharacters)>", "To: " + to.joined(separator: ", ").replacingControlCharacters, "Subject: " + format.title(notification).replacingControlCharacters,
            "Date: " + dateHeader, "Message-ID: <\(notification.id).\(Int(saturating: notification.createdAt))@mastiff.\(format.host.replacingControlCharacters)>",
            "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "", body, "",
        ].joined(separator: "\r\n")
    }

    public func deliver(_ notification: Notification) async -> DeliveryResult {
        let colon = settings.smarthost.lastIndex(of: ":")!
        var smtpHost = String(settings.smarthost[..<colon])
        if smtpHost.hasPrefix("[") { smtpHost = String(smtpHost.dropFirst().dropLast()) }
        let port = Int(settings.smarthost[settings.smarthost.index(after: colon)...]) ?? 25
        let security: CurlSMTPClient.Security = settings.security == .tls ? .tls : settings.security == .starttls ? .starttls : .none
        let client = CurlSMTPClient(host: smtpHost, port: port, security: security, username: settings.username, password: settings.password,
                                    caFile: caFile, timeoutMilliseconds: Int(saturating: timeout.seconds * 1000))
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let message = Self.message(notification, from: settings.from, to: settings.to, format: format, now: Double(now.tv_sec))
        do {
            try await client.send(from: settings.from, recipients: settings.to, message: Array(message.utf8))
            return .delivered(answer: "accepted by \(settings.smarthost)")
        } catch let error as ClientError {
            switch error.kind {
            case .authentication: return .failed(reason: "\(error)")
            default:
                // 5xx SMTP replies (e.g. a refused recipient) will not get better by retrying.
                if error.reason.contains("server replied 5") { return .failed(reason: "\(error)") }
                return .retry(reason: "\(error)", retryAfter: nil)
            }
        } catch {
            return .retry(reason: "\(error)", retryAfter: nil)
        }
    }
}
