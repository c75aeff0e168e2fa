import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies
import MastiffPromQL

/// A channel notifications go out on: it delivers one notification and says what came of it.
/// The HTTP channels are `HTTPChannel`s delivered by `HTTPDelivery`; email and the log deliver
/// themselves.
public protocol NotificationReceiver: Sendable {
    var name: String { get }
    func deliver(_ notification: Notification) async -> DeliveryResult
}

/// A channel whose message is one HTTP request, built purely from the notification as the
/// service's documented API expects it (one file per channel). `HTTPDelivery` sends it.
public protocol HTTPChannel: Sendable {
    var name: String { get }
    var timeout: Duration { get }
    func request(for notification: Notification) -> HTTPRequest
}

/// What sends a request: libcurl in mastiff, a recording transport in tests.
public protocol HTTPTransport: Sendable {
    func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse
}

/// libcurl. A 2xx is a delivery whatever the size of its body: only its first 64 KiB are read,
/// the rest is discarded (a chat service that answers with a large document must not make
/// mastiff send the same message again and again).
public struct CurlTransport: HTTPTransport {
    public init() {}

    public func send(_ request: HTTPRequest, timeout: Duration) async throws -> HTTPResponse {
        var client = CurlHTTPClient(timeoutMilliseconds: Int(saturating: timeout.seconds * 1000), maxBodyBytes: 64 << 10)
        client.truncateBody = true
        return try await client.send(request)
    }
}

/// The one delivery executor of the HTTP channels: the channel's request over the transport,
/// the answer classified by `ReceiverHTTP.send`.
public struct HTTPDelivery: NotificationReceiver {
    public let channel: any HTTPChannel
    let transport: any HTTPTransport

    public init(_ channel: any HTTPChannel, transport: any HTTPTransport = CurlTransport()) {
        self.channel = channel
        self.transport = transport
    }

    public var name: String { channel.name }

    public func deliver(_ notification: Notification) async -> DeliveryResult {
        await ReceiverHTTP.send(channel.request(for: notification), timeout: channel.timeout, transport: transport)
    }
}

/// What every HTTP channel shares: the request shape and how an answer is classified.
enum ReceiverHTTP {
    /// 2xx delivered; 408, 429 (with Retry-After) and 5xx retried; other 4xx failed for good,
    /// with the status and a cut of the body. Transport errors (refused, timeout, TLS) are
    /// retried. Messages never contain the URL (it may hold a token).
    static func send(_ request: HTTPRequest, timeout: Duration, transport: any HTTPTransport,
                     now: @Sendable () -> Double = { SystemWallClock().now() }) async -> DeliveryResult {
        let response: HTTPResponse
        do {
            response = try await transport.send(request, timeout: timeout)
        } catch {
            return .retry(reason: "\(error)", retryAfter: nil)
        }
        let answer = "HTTP \(response.status)" + (response.body.isEmpty ? "" : ": " + cut(response.text))
        switch response.status {
        case 200...299: return .delivered(answer: answer)
        case 429: return .retry(reason: answer, retryAfter: response.header("retry-after").flatMap { RetryAfter.seconds($0, now: now()) })
        case 408, 500...599: return .retry(reason: answer, retryAfter: nil)
        default: return .failed(reason: answer)
        }
    }

    /// A JSON request: the body serialized, `Content-Type: application/json` first.
    static func jsonRequest(_ value: JSONValue, to url: String, method: String = "POST", headers: [String] = [], caFile: String?) -> HTTPRequest {
        HTTPRequest(method: method, url: url, headers: ["Content-Type: application/json"] + headers, caFile: caFile,
                    body: Array(value.serialized(indent: false).utf8))
    }

    static func cut(_ text: String, _ limit: Int = 300) -> String {
        let flat = text.replacingControlCharacters
        return flat.count <= limit ? flat : String(flat.prefix(limit)) + "…"
    }
}

/// Message text shared by the chat receivers: what fired, the value, since when, the
/// description, the host.
public enum NotificationText {
    public static func title(_ notification: Notification) -> String {
        if !notification.alerts.isEmpty, notification.alerts.allSatisfy({ $0.labels.value(of: "notice") == "true" }) {
            return "[NOTICE] " + (notification.alerts.first?.annotations.value(of: "summary") ?? notification.alerts[0].name)
        }
        let firing = notification.firing
        let names = Set(notification.alerts.map(\.name)).sorted().joined(separator: ", ")
        let severity = Set(firing.compactMap { $0.labels.value(of: "severity") }).sorted().joined(separator: ", ")
        if firing.isEmpty { return "[RESOLVED] \(names)" }
        return "[FIRING:\(firing.count)] \(names)" + (severity.isEmpty ? "" : " (\(severity))")
    }

    public static func body(_ notification: Notification, host: String) -> String {
        var lines: [String] = []
        for alert in notification.alerts {
            if alert.labels.value(of: "notice") == "true" {
                lines.append(alert.annotations.value(of: "description") ?? alert.annotations.value(of: "summary") ?? alert.name)
                continue
            }
            let labels = alert.labels.filter { !["alertname", "severity"].contains($0.name) }
            let labelText = labels.isEmpty ? "" : " {" + labels.map { "\($0.name)=\($0.value)" }.joined(separator: ", ") + "}"
            switch alert.status {
            case .firing:
                lines.append("FIRING \(alert.name)\(labelText): value \(GoFloat.v(alert.value)), since \(time(alert.startsAt))")
            case .resolved:
                lines.append("RESOLVED \(alert.name)\(labelText): value at resolution \(GoFloat.v(alert.value)), resolved \(alert.endsAt.map(time) ?? "now")")
            }
            if let summary = alert.annotations.value(of: "summary") { lines.append("  " + summary) }
            if let description = alert.annotations.value(of: "description") { lines.append("  " + description) }
            if let runbook = alert.annotations.value(of: "runbook_url") { lines.append("  runbook: " + runbook) }
        }
        lines.append("— mastiff on \(host)")
        return lines.joined(separator: "\n")
    }

    /// `2026-12-03 22:52:20 UTC`.
    public static func time(_ seconds: Double) -> String {
        let time = CalendarTime.utc(seconds)
        return "\(time.date) \(time.clock) UTC"
    }

    /// RFC 3339 as Alertmanager writes it: `2026-12-03T22:52:20Z`; nil: Go's zero time.
    public static func rfc3339(_ seconds: Double?) -> String {
        guard let seconds else { return "0001-01-01T00:00:00Z" }
        return CalendarTime.utc(seconds).rfc3339
    }

    static func labelsObject(_ labels: Labels) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: labels.map { ($0.name, .string($0.value)) }))
    }

}

extension String {
    /// Percent-encoding for a URL path segment.
    var pathEscaped: String {
        var result = ""
        for byte in utf8 {
            let character = Character(Unicode.Scalar(byte))
            if character.isASCII && (character.isLetter || character.isNumber || "-_.~".contains(character)) {
                result.append(character)
            } else {
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" : "") + hex
            }
        }
        return result
    }
}
