import CCurl
import MastiffCore

/// An HTTP response as mastiff needs it.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header lines of the final response, names lowercased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The leaf certificate's notAfter, when asked for and the connection used TLS.
    public var certificateExpiry: Double?
    public var text: String { String(decoding: body, as: UTF8.self) }

    public init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], certificateExpiry: Double? = nil) {
        self.status = status
        self.headers = headers
        self.body = body
        self.certificateExpiry = certificateExpiry
    }

    public func header(_ name: String) -> String? {
        let lowered = name.lowercased()
        return headers.first { $0.name == lowered }?.value
    }
}

/// Blocking GETs over libcurl, one easy handle per request (handles are not shared between
/// threads). Used for probes, Mastodon's metrics endpoints and tests of mastiff's own server.
public struct CurlHTTPClient: Sendable {
    public var timeoutMilliseconds: Int
    public var maxBodyBytes: Int
    /// With false (the default) a body over `maxBodyBytes` fails the request; with true the
    /// first `maxBodyBytes` are kept and the rest is read and discarded, so the status still
    /// counts (a receiver's 2xx with a large answer is a delivery).
    public var truncateBody = false

    public init(timeoutMilliseconds: Int = 5000, maxBodyBytes: Int = 32 << 20) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxBodyBytes = maxBodyBytes
    }

    /// GET `url`. With `acceptCompressed`, libcurl asks for gzip and decodes it; the
    /// Content-Encoding header still tells what the server sent.
    public func get(_ url: String, headers: [String] = [], acceptCompressed: Bool = false) async throws -> HTTPResponse {
        try await send(HTTPRequest(url: url, headers: headers, acceptCompressed: acceptCompressed))
    }

    /// One request, no redirect followed (the caller decides whether a Location is acceptable).
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let timeout = timeoutMilliseconds
        let maxBody = maxBodyBytes
        let url = request.url
        let headers = request.headers
        let acceptCompressed = request.acceptCompressed
        let truncate = truncateBody
        // A header value carrying CR, LF or NUL would end its line and start a header of the
        // sender's choosing; whatever built it, it does not go out.
        if let bad = headers.first(where: { $0.unicodeScalars.contains(where: \.isControlCharacter) }) {
            let name = bad.split(separator: ":", maxSplits: 1).first.map(String.init) ?? "a header"
            throw ClientError(.transport, system: "http", reason: "refusing to send header \(name.escapingControlCharacters): it contains a control character")
        }
        return try await BlockingWork.runAbandoningOnCancel {
            // libcurl is loaded on first use (CCurl/shim.h).
            if let loadError = mastiff_curl_load_error() {
                throw ClientError(.transport, system: "http", reason: "libcurl could not be loaded (Debian: libcurl4): \(String(cString: loadError))")
            }
            guard let handle = mastiff_curl_easy_init() else { throw ClientError(.transport, system: "http", reason: "curl_easy_init failed") }
            defer { mastiff_curl_easy_cleanup(handle) }
            let sink = BodySink(limit: maxBody, truncate: truncate)
            let context = Unmanaged.passUnretained(sink).toOpaque()
            var headerList: UnsafeMutablePointer<curl_slist>?
            for header in headers { headerList = mastiff_curl_slist_append(headerList, header) }
            defer { mastiff_curl_slist_free_all(headerList) }

            _ = mastiff_curl_setopt_string(handle, CURLOPT_URL, url)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
            _ = mastiff_curl_setopt_string(handle, CURLOPT_USERAGENT, "mastiff")
            // URLs come from configuration and from files other users write (.env.production):
            // HTTP(S) only, never gopher://, file:// or another of libcurl's protocols.
            _ = mastiff_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
            _ = mastiff_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
            switch request.method {
            case "GET": break
            case "HEAD": _ = mastiff_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
            case "POST" where request.body != nil: break // POSTFIELDS makes it a POST
            default: _ = mastiff_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, request.method)
            }
            if let caFile = request.caFile { _ = mastiff_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
            if let socket = request.unixSocket { _ = mastiff_curl_setopt_string(handle, CURLOPT_UNIX_SOCKET_PATH, socket) }
            if let body = request.body {
                _ = mastiff_curl_setopt_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
                _ = body.withUnsafeBufferPointer { buffer in
                    mastiff_curl_setopt_pointer(handle, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: buffer.baseAddress ?? UnsafePointer(bitPattern: 1)!))
                }
            }
            if request.certificateInfo { _ = mastiff_curl_setopt_long(handle, CURLOPT_CERTINFO, 1) }
            if acceptCompressed { _ = mastiff_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "gzip") }
            if headerList != nil { _ = mastiff_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }
            _ = mastiff_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
            _ = mastiff_curl_setopt_write_function(handle) { data, size, count, context in
                let sink = Unmanaged<BodySink>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                guard sink.bytes.count + length <= sink.limit else {
                    guard sink.truncate else { return 0 }
                    let room = sink.limit - sink.bytes.count
                    if room > 0 { sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: room)) }
                    return length
                }
                sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: length))
                return length
            }
            _ = mastiff_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
            _ = mastiff_curl_setopt_header_function(handle) { data, size, count, context in
                let sink = Unmanaged<BodySink>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                let line = String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self)
                if line.hasPrefix("HTTP/") {
                    sink.headers.removeAll()   // a new response (after 100-continue or a redirect)
                } else if sink.headers.count < 200, let colon = line.firstIndex(of: ":") {   // a peer's header flood is not kept
                    let name = line[..<colon].lowercased()
                    let value = line[line.index(after: colon)...].trimmingWhitespace
                    sink.headers.append((name, String(value)))
                }
                return length
            }
            let code = mastiff_curl_easy_perform(handle)
            guard code == CURLE_OK else {
                let kind: ClientError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : .transport
                throw ClientError(kind, system: "http", reason: String(cString: mastiff_curl_easy_strerror(code)))
            }
            var status = 0
            _ = mastiff_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            var response = HTTPResponse(status: status, headers: sink.headers, body: sink.bytes)
            if request.certificateInfo, let expiry = mastiff_curl_leaf_expire_date(handle) {
                response.certificateExpiry = Self.parseCertificateDate(String(cString: expiry))
            }
            return response
        }
    }
}

extension CurlHTTPClient {
    /// OpenSSL's certificate date as libcurl reports it: `Jan  1 00:00:00 2027 GMT` (or
    /// `2027-01-01 00:00:00 GMT` from other backends), in seconds since the epoch.
    static func parseCertificateDate(_ text: String) -> Double? {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" }).map(String.init)
        var year = 0, month = 0, day = 0
        var clock: [Int] = []
        if fields.count >= 4, let index = months.firstIndex(of: fields[0]), let d = Int(fields[1]), let y = Int(fields[3]) {
            (year, month, day) = (y, index + 1, d)
            clock = fields[2].split(separator: ":").compactMap { Int($0) }
        } else if fields.count >= 2 {
            let date = fields[0].split(separator: "-").compactMap { Int($0) }
            guard date.count == 3 else { return nil }
            (year, month, day) = (date[0], date[1], date[2])
            clock = fields[1].split(separator: ":").compactMap { Int($0) }
        }
        guard year > 0, (1...12).contains(month), (1...31).contains(day), clock.count == 3 else { return nil }
        let days = CalendarTime.daysSinceEpoch(year: year, month: month, day: day)
        return Double(days * 86400 + clock[0] * 3600 + clock[1] * 60 + clock[2])
    }
}

/// A request for `send`.
public struct HTTPRequest: Sendable {
    public var method = "GET"
    public var url: String
    public var headers: [String] = []
    public var acceptCompressed = false
    /// A CA bundle to verify the server against, instead of the system's.
    public var caFile: String?
    /// Ask libcurl for the server's certificate (its expiry is in the response).
    public var certificateInfo = false
    /// A request body (POST unless `method` says otherwise).
    public var body: [UInt8]?
    /// Connect to this Unix socket instead of the URL's host (supervisord, the Docker Engine).
    public var unixSocket: String?

    public init(method: String = "GET", url: String, headers: [String] = [], acceptCompressed: Bool = false, caFile: String? = nil,
                certificateInfo: Bool = false, body: [UInt8]? = nil) {
        self.body = body
        self.method = method
        self.url = url
        self.headers = headers
        self.acceptCompressed = acceptCompressed
        self.caFile = caFile
        self.certificateInfo = certificateInfo
    }
}

private final class BodySink {
    var bytes: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    let limit: Int
    let truncate: Bool
    init(limit: Int, truncate: Bool) {
        self.limit = limit
        self.truncate = truncate
    }
}
