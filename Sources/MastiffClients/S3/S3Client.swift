import CCurl
import MastiffCore
#if canImport(Glibc)
import Glibc
#endif

/// Where and how to reach an S3-compatible bucket (AWS, MinIO, R2, B2, Wasabi, Garage, moto).
public struct S3Endpoint: Sendable, Equatable {
    /// `https://s3.eu-central-1.amazonaws.com`, `http://127.0.0.1:9000`: scheme, host, port.
    public var url: String
    public var region: String
    public var bucket: String
    /// Path style (`endpoint/bucket/key`) or virtual-hosted (`bucket.endpoint/key`).
    public var pathStyle: Bool
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?
    public var caFile: String?

    public init(url: String, region: String, bucket: String, pathStyle: Bool, accessKeyID: String, secretAccessKey: Secret,
                sessionToken: Secret? = nil, caFile: String? = nil) {
        self.url = url.hasSuffix("/") ? String(url.dropLast()) : url
        self.region = region
        self.bucket = bucket
        self.pathStyle = pathStyle
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.caFile = caFile
    }

    /// The host (with port) and the decoded path for `key` (`nil` key: the bucket itself).
    func hostAndPath(key: String?) -> (scheme: String, host: String, path: String) {
        let parts = url.split(separator: "/", omittingEmptySubsequences: true)
        let hasScheme = parts.count >= 2 && parts[0].hasSuffix(":")
        let scheme = hasScheme ? String(parts[0].dropLast()) : "https"
        let host = hasScheme ? String(parts[1]) : String(parts.first ?? "")
        if pathStyle { return (scheme, host, "/\(bucket)" + (key.map { "/" + $0 } ?? "")) }
        return (scheme, "\(bucket).\(host)", "/" + (key ?? ""))
    }
}

/// One S3 object as a listing shows it.
public struct S3Object: Sendable, Equatable {
    public var key: String
    public var size: Int
    public var lastModified: String
}

public struct S3MultipartUpload: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    public var initiated: String
}

/// An error answer from S3 (its Code and Message) or a transport failure. Never carries the
/// secret key or a signature.
public struct S3Error: Error, Sendable, CustomStringConvertible, Equatable {
    public var status: Int
    public var code: String
    public var message: String
    public var operation: String
    public var description: String {
        status == 0 ? "S3 \(operation): \(message)" : "S3 \(operation): HTTP \(status) \(code)\(message.isEmpty ? "" : ": \(message)")"
    }
    /// Worth another attempt: transport errors, throttling and server errors.
    public var isTransient: Bool { status == 0 || status == 429 || status >= 500 || code == "RequestTimeout" }
}

/// S3 requests over libcurl, each signed with SigV4 in Swift and sent with Content-Length and its
/// own `x-amz-content-sha256` (libcurl 7.88's own SigV4 signs uploads wrongly; see
/// docs/adr/0015-backups-streamed-to-s3.md). Every request has a connect timeout and a low-speed
/// limit, so no transfer can hang; transient failures are retried with exponential back-off.
public struct S3Client: Sendable {
    public var endpoint: S3Endpoint
    public var connectTimeoutSeconds = 10
    /// A transfer slower than `lowSpeedBytesPerSecond` for this long is abandoned (and retried).
    public var lowSpeedSeconds = 30
    public var lowSpeedBytesPerSecond = 1024
    public var attempts = 4
    public var backoff: Duration = .seconds(1)
    /// A request that carries no part and streams nothing (a listing page, a manifest, a HEAD,
    /// a DELETE, creating or completing an upload) ends within this however its bytes trickle
    /// in: a body dripping just above the low-speed limit must not hold `backup list` or the
    /// agent's scheduled work.
    public var requestTimeoutSeconds = 60
    /// A whole listing (every page) ends within this.
    public var listingDeadline: Duration = .seconds(300)
    /// Listings are bounded: a bucket answering "truncated" forever, or with the same token,
    /// must not grow mastiff's memory.
    public static let maxListedObjects = 200_000
    public static let maxListingPages = 2_000
    public var wallClock: any WallClock = SystemWallClock()

    public init(endpoint: S3Endpoint) { self.endpoint = endpoint }

    var signer: SigV4Signer {
        SigV4Signer(accessKeyID: endpoint.accessKeyID, secretAccessKey: endpoint.secretAccessKey, sessionToken: endpoint.sessionToken,
                    region: endpoint.region)
    }

    // MARK: Operations

    public func put(key: String, body: [UInt8], contentType: String = "application/octet-stream") async throws(S3Error) {
        _ = try await request("PutObject", "PUT", key: key, headers: [("content-type", contentType)], body: PartBuffer(body))
    }

    public func createMultipartUpload(key: String) async throws(S3Error) -> String {
        let response = try await request("CreateMultipartUpload", "POST", key: key, query: [("uploads", "")])
        guard let id = XMLText.values("UploadId", in: response.text).first, !id.isEmpty else {
            throw S3Error(status: response.status, code: "", message: "no UploadId in the answer", operation: "CreateMultipartUpload")
        }
        return id
    }

    /// A single-request upload of what `body` holds (objects under one part size).
    public func put(key: String, body: PartBuffer) async throws(S3Error) {
        _ = try await request("PutObject", "PUT", key: key, headers: [("content-type", "application/octet-stream")], body: body)
    }

    /// Uploads what `body` holds as part `number`; returns its ETag.
    public func uploadPart(key: String, uploadID: String, number: Int, body: PartBuffer) async throws(S3Error) -> String {
        let response = try await request("UploadPart", "PUT", key: key, query: [("partNumber", String(number)), ("uploadId", uploadID)],
                                         body: body)
        guard let etag = response.header("etag") else {
            throw S3Error(status: response.status, code: "", message: "no ETag for part \(number)", operation: "UploadPart")
        }
        return etag
    }

    public func completeMultipartUpload(key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws(S3Error) {
        var xml = "<CompleteMultipartUpload>"
        for part in parts.sorted(by: { $0.number < $1.number }) {
            xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\(XMLText.escape(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let response = try await request("CompleteMultipartUpload", "POST", key: key, query: [("uploadId", uploadID)],
                                         headers: [("content-type", "application/xml")], body: PartBuffer(Array(xml.utf8)))
        // S3 may answer 200 with an <Error> body when the completion failed late.
        if response.text.contains("<Error>") { throw Self.error(in: response.text, status: response.status, operation: "CompleteMultipartUpload") }
    }

    /// Abort; an upload that is already gone (NoSuchUpload) counts as aborted.
    public func abortMultipartUpload(key: String, uploadID: String) async throws(S3Error) {
        do {
            _ = try await request("AbortMultipartUpload", "DELETE", key: key, query: [("uploadId", uploadID)])
        } catch where error.code == "NoSuchUpload" || error.status == 404 {
        }
    }

    public func listMultipartUploads(prefix: String) async throws(S3Error) -> [S3MultipartUpload] {
        var uploads: [S3MultipartUpload] = []
        var markers: [(String, String)] = []
        var pages = Listing(operation: "ListMultipartUploads", deadline: ContinuousClock.now + listingDeadline)
        while true {
            let response = try await request("ListMultipartUploads", "GET", key: nil, query: [("uploads", ""), ("prefix", prefix)] + markers)
            try pages.page(response.text, root: "ListMultipartUploadsResult")
            let page = Self.uploadsPage(response.text, prefix: prefix)
            uploads += page.uploads
            try pages.count(uploads.count)
            guard let next = page.next else { break }
            try pages.next(next.key + "\u{0}" + next.uploadID)
            markers = [("key-marker", next.key), ("upload-id-marker", next.uploadID)]
        }
        return uploads
    }

    /// ListObjectsV2, every page.
    public func list(prefix: String) async throws(S3Error) -> [S3Object] {
        var objects: [S3Object] = []
        var token: String?
        var pages = Listing(operation: "ListObjectsV2", deadline: ContinuousClock.now + listingDeadline)
        repeat {
            var query = [("list-type", "2"), ("prefix", prefix)]
            if let token { query.append(("continuation-token", token)) }
            let response = try await request("ListObjectsV2", "GET", key: nil, query: query)
            try pages.page(response.text, root: "ListBucketResult")
            let page = Self.objectsPage(response.text, prefix: prefix)
            objects += page.objects
            try pages.count(objects.count)
            token = page.continuation
            if let token { try pages.next(token) }
        } while token != nil
        return objects
    }

    /// One page of ListObjectsV2: the objects under `prefix` (a key outside the prefix asked for
    /// is not this listing's) and the continuation token when the listing goes on.
    public static func objectsPage(_ text: String, prefix: String) -> (objects: [S3Object], continuation: String?) {
        var objects: [S3Object] = []
        for element in XMLText.elements("Contents", in: text) {
            let key = XMLText.values("Key", in: element).first ?? ""
            guard key.hasPrefix(prefix) else { continue }
            objects.append(S3Object(key: key, size: Int(XMLText.values("Size", in: element).first ?? "") ?? 0,
                                    lastModified: XMLText.values("LastModified", in: element).first ?? ""))
        }
        let continuation = XMLText.values("IsTruncated", in: text).first == "true" ? XMLText.values("NextContinuationToken", in: text).first : nil
        return (objects, continuation)
    }

    /// One page of ListMultipartUploads: the uploads under `prefix` and the markers of the next page.
    public static func uploadsPage(_ text: String, prefix: String) -> (uploads: [S3MultipartUpload], next: (key: String, uploadID: String)?) {
        var uploads: [S3MultipartUpload] = []
        for element in XMLText.elements("Upload", in: text) {
            let key = XMLText.values("Key", in: element).first ?? ""
            guard key.hasPrefix(prefix) else { continue }
            uploads.append(S3MultipartUpload(key: key, uploadID: XMLText.values("UploadId", in: element).first ?? "",
                                             initiated: XMLText.values("Initiated", in: element).first ?? ""))
        }
        guard XMLText.values("IsTruncated", in: text).first == "true", let nextKey = XMLText.values("NextKeyMarker", in: text).first else { return (uploads, nil) }
        return (uploads, (nextKey, XMLText.values("NextUploadIdMarker", in: text).first ?? ""))
    }

    /// The error an answer outside 2xx carries: its XML Code and Message, when it has them.
    public static func error(in text: String, status: Int, operation: String) -> S3Error {
        S3Error(status: status, code: XMLText.values("Code", in: text).first ?? "", message: XMLText.values("Message", in: text).first ?? "",
                operation: operation)
    }

    /// The checks every page of a listing passes: the answer is the listing asked for, its
    /// continuation never repeats, and pages, entries and time stay bounded.
    struct Listing {
        let operation: String
        let deadline: ContinuousClock.Instant
        var tokens = Set<String>()
        var pages = 0

        mutating func page(_ text: String, root: String) throws(S3Error) {
            pages += 1
            guard text.contains("<\(root)") else {
                throw S3Error(status: 200, code: "MalformedAnswer", message: "the answer is not a \(root) (\(String(text.prefix(80)).escapingControlCharacters))", operation: operation)
            }
            guard pages <= S3Client.maxListingPages else {
                throw S3Error(status: 200, code: "ListingTooLong", message: "more than \(S3Client.maxListingPages) pages: stopped", operation: operation)
            }
            guard ContinuousClock.now < deadline else {
                throw S3Error(status: 0, code: "ListingTimeout", message: "the listing did not end within its deadline", operation: operation)
            }
        }

        func count(_ entries: Int) throws(S3Error) {
            guard entries <= S3Client.maxListedObjects else {
                throw S3Error(status: 200, code: "ListingTooLong", message: "more than \(S3Client.maxListedObjects) entries: stopped (use a prefix of mastiff's own)", operation: operation)
            }
        }

        mutating func next(_ token: String) throws(S3Error) {
            guard tokens.insert(token).inserted else {
                throw S3Error(status: 200, code: "ListingLoops", message: "the listing repeats a continuation token: stopped", operation: operation)
            }
        }
    }

    /// The object's size, or nil when it does not exist.
    public func head(key: String) async throws(S3Error) -> Int? {
        do {
            let response = try await request("HeadObject", "HEAD", key: key)
            return response.header("content-length").flatMap { Int($0) }
        } catch where error.status == 404 {
            return nil
        }
    }

    /// A small object in memory (manifests).
    public func get(key: String, limit: Int = 1 << 20) async throws(S3Error) -> [UInt8] {
        try await request("GetObject", "GET", key: key, responseLimit: limit).body
    }

    /// Streams the object to `sink` as it arrives; `sink` returning false stops the transfer.
    /// Not retried once bytes have been delivered (the sink has seen them).
    public func get(key: String, sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Bool) async throws(S3Error) {
        _ = try await request("GetObject", "GET", key: key, stream: sink)
    }

    public func delete(key: String) async throws(S3Error) {
        _ = try await request("DeleteObject", "DELETE", key: key)
    }

    // MARK: Transport

    struct Response: Sendable {
        var status: Int
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        func header(_ name: String) -> String? { headers.first { $0.name == name }?.value }
    }

    func request(_ operation: String, _ method: String, key: String?, query: [(String, String)] = [], headers: [(String, String)] = [],
                 body: PartBuffer? = nil, responseLimit: Int = 4 << 20,
                 stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)? = nil) async throws(S3Error) -> Response {
        let length = body?.count ?? 0
        // The payload hash is computed once, off the cooperative pool (a part is megabytes); each
        // attempt is signed anew (its date changes).
        var payloadHash = Hex.encode(Crypto.sha256([UInt8]()))
        if let body {
            payloadHash = (try? await BlockingWork.run { Hex.encode(Crypto.sha256(body.bytes)) }) ?? payloadHash
        }
        var attempt = 1
        while true {
            do {
                return try await perform(operation, method, key: key, query: query, headers: headers, body: body, length: length,
                                         payloadHash: payloadHash, responseLimit: responseLimit, stream: stream)
            } catch {
                guard error.isTransient, attempt < attempts, stream == nil || error.status != 0 else { throw error }
                try? await Task.sleep(for: backoff * (1 << (attempt - 1)))
                attempt += 1
            }
        }
    }

    private func perform(_ operation: String, _ method: String, key: String?, query: [(String, String)], headers: [(String, String)],
                         body: PartBuffer?, length: Int, payloadHash: String, responseLimit: Int,
                         stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)?) async throws(S3Error) -> Response {
        if let error = mastiff_curl_load_error() {
            throw S3Error(status: 0, code: "", message: "libcurl could not be loaded (Debian: libcurl4): \(String(cString: error))", operation: operation)
        }
        do { try Crypto.checkAvailable() } catch { throw S3Error(status: 0, code: "", message: error.description, operation: operation) }
        let (scheme, host, path) = endpoint.hostAndPath(key: key)
        let signed = signer.sign(method: method, path: path, query: query.map { (name: $0.0, value: $0.1) },
                                 headers: [("host", host), ("x-amz-content-sha256", payloadHash)] + headers.map { (name: $0.0, value: $0.1) },
                                 payloadHash: payloadHash, amzDate: SigV4Signer.amzDate(wallClock.now()))
        let queryText = SigV4Signer.canonicalQuery(query.map { (name: $0.0, value: $0.1) })
        let url = "\(scheme)://\(host)\(SigV4Signer.uriEncode(path, keepSlash: true))" + (queryText.isEmpty ? "" : "?" + queryText)
        let headerLines = signed.headers.map { "\($0.name): \($0.value)" } + ["Expect:"] // no 100-continue round trip
        let settings = (connect: connectTimeoutSeconds, lowSpeed: lowSpeedSeconds, lowRate: lowSpeedBytesPerSecond, caFile: endpoint.caFile,
                        timeout: body == nil && stream == nil ? requestTimeoutSeconds : 0)
        let result: Result<Response, S3Error>
        do {
            result = try await BlockingWork.run { () -> Result<Response, S3Error> in
                guard let handle = mastiff_curl_easy_init() else {
                    return .failure(S3Error(status: 0, code: "", message: "curl_easy_init failed", operation: operation))
                }
                defer { mastiff_curl_easy_cleanup(handle) }
                let transfer = Transfer(body: body, length: length, limit: responseLimit, stream: stream)
                let context = Unmanaged.passUnretained(transfer).toOpaque()
                var list: UnsafeMutablePointer<curl_slist>?
                for line in headerLines { list = mastiff_curl_slist_append(list, line) }
                defer { mastiff_curl_slist_free_all(list) }
                _ = mastiff_curl_setopt_string(handle, CURLOPT_URL, url)
                _ = mastiff_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = mastiff_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT, settings.connect)
                _ = mastiff_curl_setopt_long(handle, CURLOPT_LOW_SPEED_LIMIT, settings.lowRate)
                _ = mastiff_curl_setopt_long(handle, CURLOPT_LOW_SPEED_TIME, settings.lowSpeed)
                _ = mastiff_curl_setopt_string(handle, CURLOPT_USERAGENT, "mastiff")
                // An endpoint from configuration speaks HTTP(S) only, redirects included.
                _ = mastiff_curl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "http,https")
                _ = mastiff_curl_setopt_string(handle, CURLOPT_REDIR_PROTOCOLS_STR, "http,https")
                if settings.timeout > 0 { _ = mastiff_curl_setopt_long(handle, CURLOPT_TIMEOUT, settings.timeout) }
                if let caFile = settings.caFile { _ = mastiff_curl_setopt_string(handle, CURLOPT_CAINFO, caFile) }
                switch method {
                case "HEAD": _ = mastiff_curl_setopt_long(handle, CURLOPT_NOBODY, 1)
                case "GET": break
                default: _ = mastiff_curl_setopt_string(handle, CURLOPT_CUSTOMREQUEST, method)
                }
                if body != nil || method == "POST" || method == "PUT" {
                    // UPLOAD with a known size: Content-Length, never chunked (S3 answers 501 to chunked).
                    _ = mastiff_curl_setopt_long(handle, CURLOPT_UPLOAD, 1)
                    _ = mastiff_curl_setopt_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(length))
                    _ = mastiff_curl_setopt_pointer(handle, CURLOPT_READDATA, context)
                    _ = mastiff_curl_setopt_read_function(handle) { buffer, size, count, context in
                        let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                        let wanted = min(size * count, transfer.length - transfer.sent)
                        guard wanted > 0, let body = transfer.body else { return 0 }
                        UnsafeMutableRawPointer(buffer!).copyMemory(from: body.pointer.baseAddress! + transfer.sent, byteCount: wanted)
                        transfer.sent += wanted
                        return wanted
                    }
                }
                _ = mastiff_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, list)
                _ = mastiff_curl_setopt_pointer(handle, CURLOPT_WRITEDATA, context)
                _ = mastiff_curl_setopt_write_function(handle) { data, size, count, context in
                    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                    let length = size * count
                    let bytes = UnsafeRawBufferPointer(start: data, count: length)
                    // Stream only a successful answer; an error answer is kept to read its Code.
                    if let stream = transfer.stream, (200..<300).contains(transfer.status) {
                        return stream(bytes) ? length : 0
                    }
                    guard transfer.received.count + length <= transfer.limit else { return 0 }
                    transfer.received.append(contentsOf: bytes)
                    return length
                }
                _ = mastiff_curl_setopt_pointer(handle, CURLOPT_HEADERDATA, context)
                _ = mastiff_curl_setopt_header_function(handle) { data, size, count, context in
                    let transfer = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
                    let length = size * count
                    let line = Substring(String(decoding: UnsafeRawBufferPointer(start: data, count: length), as: UTF8.self))
                    if line.hasPrefix("HTTP/") {
                        transfer.headers.removeAll()
                        transfer.status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
                    } else if transfer.headers.count < 200, let colon = line.firstIndex(of: ":") {   // a header flood is not kept
                        transfer.headers.append((line[..<colon].lowercased(), String(line[line.index(after: colon)...].trimmingWhitespace)))
                    }
                    return length
                }
                let code = mastiff_curl_easy_perform(handle)
                var status = 0
                _ = mastiff_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
                if code != CURLE_OK, !(code == CURLE_WRITE_ERROR && transfer.stream != nil && (200..<300).contains(status)) || status == 0 {
                    return .failure(S3Error(status: 0, code: "", message: String(cString: mastiff_curl_easy_strerror(code)), operation: operation))
                }
                if code == CURLE_WRITE_ERROR {
                    return .failure(S3Error(status: 0, code: "Stopped", message: "the reader stopped the download", operation: operation))
                }
                return .success(Response(status: status, headers: transfer.headers, body: transfer.received))
            }
        } catch {
            throw S3Error(status: 0, code: "", message: "\(error)", operation: operation)
        }
        let response = try result.get()
        guard (200..<300).contains(response.status) else { throw Self.error(in: response.text, status: response.status, operation: operation) }
        return response
    }
}

private final class Transfer: @unchecked Sendable {
    let body: PartBuffer?
    let length: Int
    var sent = 0
    var status = 0
    var headers: [(name: String, value: String)] = []
    var received: [UInt8] = []
    let limit: Int
    let stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)?

    init(body: PartBuffer?, length: Int, limit: Int, stream: (@Sendable (UnsafeRawBufferPointer) -> Bool)?) {
        self.body = body
        self.length = length
        self.limit = limit
        self.stream = stream
    }
}
