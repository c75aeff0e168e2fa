import CCurl
import MastiffCore

/// An HTTP response as mastiff needs it.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// Blocking GETs over libcurl, one easy handle per request (handles are not shared between
/// threads). Used for probes, Mastodon's metrics endpoints and tests of mastiff's own server.
public struct CurlHTTPClient: Sendable {
    public var timeoutMilliseconds: Int
    public var maxBodyBytes: Int

    public init(timeoutMilliseconds: Int = 5000, maxBodyBytes: Int = 32 << 20) {
        self.timeoutMilliseconds = timeoutMilliseconds
        self.maxBodyBytes = maxBodyBytes
        Self.globalInit
    }

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    public func get(_ url: String, headers: [String] = [], acceptCompressed: Bool = false) async throws -> HTTPResponse {
        let timeout = timeoutMilliseconds
        let maxBody = maxBodyBytes
        return try await BlockingWork.run {
            guard let handle = curl_easy_init() else { throw ClientError(.transport, system: "http", reason: "curl_easy_init failed") }
            defer { curl_easy_cleanup(handle) }
            let sink = BodySink(limit: maxBody)
            let context = Unmanaged.passUnretained(sink).toOpaque()
            var headerList: UnsafeMutablePointer<curl_slist>?
            for header in headers { headerList = curl_slist_append(headerList, header) }
            defer { curl_slist_free_all(headerList) }

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
            let code = curl_easy_perform(handle)
            guard code == CURLE_OK else {
                let kind: ClientError.Kind = code == CURLE_OPERATION_TIMEDOUT ? .timeout : .transport
                throw ClientError(kind, system: "http", reason: String(cString: curl_easy_strerror(code)))
            }
            var status = 0
            _ = mastiff_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
            return HTTPResponse(status: status, body: sink.bytes)
        }
    }
}

private final class BodySink {
    var bytes: [UInt8] = []
    let limit: Int
    init(limit: Int) { self.limit = limit }
}
