import CCurl
import MastiffCore

/// One e-mail over SMTP with libcurl: `smtp://` with STARTTLS required, `smtps://` (TLS from the
/// start) or plain `smtp://`, AUTH when a username is given. The password never appears in an
/// error: libcurl's messages do not carry it, and the error is cleaned of it anyway.
public struct CurlSMTPClient: Sendable {
    public enum Security: Sendable { case starttls, tls, none }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: Secret?
    public var caFile: String?
    public var timeoutMilliseconds: Int

    public init(host: String, port: Int, security: Security, username: String?, password: Secret?, caFile: String?, timeoutMilliseconds: Int) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.caFile = caFile
        self.timeoutMilliseconds = timeoutMilliseconds
    }

    /// Sends `message` (a whole RFC 5322 message, CRLF line ends) from `from` to `recipients`.
    public func send(from: String, recipients: [String], message: [UInt8]) async throws {
        let configuration = self
        try await BlockingWork.runAbandoningOnCancel {
            if let loadError = mastiff_curl_load_error() {
                throw ClientError(.transport, system: "smtp", reason: "libcurl could not be loaded (Debian: libcurl4): \(String(cString: loadError))")
            }
            guard let handle = mastiff_curl_easy_init() else { throw ClientError(.transport, system: "smtp", reason: "curl_easy_init failed") }
            defer { mastiff_curl_easy_cleanup(handle) }
            let scheme = configuration.security == .tls ? "smtps" : "smtp"
            let hostPart = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            _ = mastiff_curl_setopt_string(handle, CURLOPT_URL, "\(scheme)://\(hostPart):\(configuration.port)")
            _ = mastiff_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps")
            _ = mastiff_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, configuration.timeoutMilliseconds)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            if configuration.security == .starttls { _ = mastiff_curl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)) }
            if let caFile = configuration.caFile { _ = mastiff_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
            if let username = configuration.username {
                _ = mastiff_curl_setopt_string(handle, CURLOPT_USERNAME, username)
                _ = mastiff_curl_setopt_string(handle, CURLOPT_PASSWORD, configuration.password?.reveal() ?? "")
            }
            _ = mastiff_curl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
            var recipientList: UnsafeMutablePointer<curl_slist>?
            for recipient in recipients { recipientList = mastiff_curl_slist_append(recipientList, "<\(recipient)>") }
            defer { mastiff_curl_slist_free_all(recipientList) }
            _ = mastiff_curl_setopt_slist(handle, CURLOPT_MAIL_RCPT, recipientList)
            let source = MessageSource(bytes: message)
            _ = mastiff_curl_setopt_pointer(handle, CURLOPT_READDATA, Unmanaged.passUnretained(source).toOpaque())
            _ = mastiff_curl_setopt_read_function(handle) { buffer, size, count, context in
                let source = Unmanaged<MessageSource>.fromOpaque(context!).takeUnretainedValue()
                let length = min(size * count, source.bytes.count - source.offset)
                guard length > 0, let buffer else { return 0 }
                source.bytes.withUnsafeBufferPointer { bytes in
                    UnsafeMutableRawPointer(buffer).copyMemory(from: bytes.baseAddress! + source.offset, byteCount: length)
                }
                source.offset += length
                return length
            }
            _ = mastiff_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
            let code = mastiff_curl_easy_perform(handle)
            guard code == CURLE_OK else {
                var response = 0
                _ = mastiff_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &response)
                let kind: ClientError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : (code == CURLE_LOGIN_DENIED ? .authentication : .transport)
                let detail = String(cString: mastiff_curl_easy_strerror(code)) + (response > 0 ? " (server replied \(response))" : "")
                throw ClientError(kind, system: "smtp", reason: detail, secrets: configuration.password.map { [$0.reveal()] } ?? [])
            }
        }
    }
}

private final class MessageSource {
    let bytes: [UInt8]
    var offset = 0
    init(bytes: [UInt8]) { self.bytes = bytes }
}
