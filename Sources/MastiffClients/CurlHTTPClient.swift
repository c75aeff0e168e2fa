import CCurl
import MastiffCore

/// An HTTP response as mastiff needs it.
public struct HTTPResponse: Sendable {
    public var status: Int
    /// Header lines of the final response, names lowercased.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }

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

    public init(timeoutMilliseconds: Int = 5000, maxBodyBytes: Int = 32 << 20) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxBodyBytes = maxBodyBytes
    }

    /// GET `url`. With `acceptCompressed`, libcurl asks for gzip and decodes it; the
    /// Content-Encoding header still tells what the server sent.
    public func get(_ url: String, headers: [String] = [], acceptCompressed: Bool = false) async throws -> HTTPResponse {
        let timeout = timeoutMilliseconds
        let maxBody = maxBodyBytes
        return try await BlockingWork.run {
            // libcurl is loaded on first use (CCurl/shim.h).
            if let loadError = mastiff_curl_load_error() {
                throw ClientError(.transport, system: "http", reason: "libcurl could not be loaded (Debian: libcurl4): \(String(cString: loadError))")
            }
            guard let handle = mastiff_curl_easy_init() else { throw ClientError(.transport, system: "http", reason: "curl_easy_init failed") }
            defer { mastiff_curl_easy_cleanup(handle) }
            let sink = BodySink(limit: maxBody)
            let context = Unmanaged.passUnretained(sink).toOpaque()
            var headerList: UnsafeMutablePointer<curl_slist>?
            for header in headers { headerList = mastiff_curl_slist_append(headerList, header) }
            defer { mastiff_curl_slist_free_all(headerList) }

            _ = mastiff_curl_setopt_string(handle, CURLOPT_URL, url)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, timeout)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
            _ = mastiff_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0)
            _ = mastiff_curl_setopt_string(handle, CURLOPT_USERAGENT, "mastiff")
            if acceptCompressed { _ = mastiff_curl_setopt_string(handle, CURLOPT_ACCEPT_ENCODING, "gzip") }
            if headerList != nil { _ = mastiff_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList) }
            _ = mastiff_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
            _ = mastiff_curl_setopt_write_function(handle) { data, size, count, context in
                let sink = Unmanaged<BodySink>.fromOpaque(context!).takeUnretainedValue()
                let length = size * count
                guard sink.bytes.count + length <= sink.limit else { return 0 }
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
                } else if let colon = line.firstIndex(of: ":") {
                    let name = line[..<colon].lowercased()
                    let value = line[line.index(after: colon)...].trimmingCharacters()
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
            return HTTPResponse(status: status, headers: sink.headers, body: sink.bytes)
        }
    }
}

private final class BodySink {
    var bytes: [UInt8] = []
    var headers: [(name: String, value: String)] = []
    let limit: Int
    init(limit: Int) { self.limit = limit }
}
