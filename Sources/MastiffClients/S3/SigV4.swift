import MastiffCore

/// AWS Signature Version 4 for header-signed requests (docs.aws.amazon.com/IAM/latest/UserGuide/
/// reference_sigv-create-signed-request.html), pure: the caller passes the time. S3 flavour:
/// the path is encoded once and never normalised, and the payload hash is whatever the caller
/// sends as `x-amz-content-sha256` (the hex SHA-256 of the body; this client always sends it).
/// Checked against AWS's published test-suite vectors in SigV4Tests.
public struct SigV4Signer: Sendable {
    public var accessKeyID: String
    public var secretAccessKey: Secret
    public var sessionToken: Secret?
    public var region: String
    public var service: String

    public init(accessKeyID: String, secretAccessKey: Secret, sessionToken: Secret? = nil, region: String, service: String = "s3") {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
        self.region = region
        self.service = service
    }

    public struct Signed: Sendable {
        /// Headers to send, `Authorization` last, including `x-amz-date` (and the session token).
        public var headers: [(name: String, value: String)]
        public var canonicalRequest: String
        public var stringToSign: String
        public var authorization: String { headers.last!.value }
    }

    /// `path` is the decoded object path (`/bucket/key` or `/key`); `query` the decoded
    /// parameters; `headers` must include `host`. `amzDate` is `YYYYMMDDTHHMMSSZ`.
    public func sign(method: String, path: String, query: [(name: String, value: String)], headers: [(name: String, value: String)],
                     payloadHash: String, amzDate: String) -> Signed {
        var all = headers
        all.append(("x-amz-date", amzDate))
        if let sessionToken { all.append(("x-amz-security-token", sessionToken.reveal())) }
        // Canonical headers: lowercase names, values trimmed with inner runs of spaces made one,
        // repeated names joined by commas in the order given, sorted by name.
        var grouped: [String: [String]] = [:]
        for (name, value) in all { grouped[name.lowercased(), default: []].append(Self.trimmedHeaderValue(value)) }
        let names = grouped.keys.sorted()
        let canonicalHeaders = names.map { "\($0):\(grouped[$0]!.joined(separator: ","))\n" }.joined()
        let signedHeaders = names.joined(separator: ";")
        let canonicalRequest = [method, Self.canonicalURI(path), Self.canonicalQuery(query), canonicalHeaders, signedHeaders, payloadHash]
            .joined(separator: "\n")
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, Hex.encode(Crypto.sha256(Array(canonicalRequest.utf8)))].joined(separator: "\n")
        var key = Crypto.hmacSHA256(key: Array(("AWS4" + secretAccessKey.reveal()).utf8), Array(day.utf8))
        for part in [region, service, "aws4_request"] { key = Crypto.hmacSHA256(key: key, Array(part.utf8)) }
        let signature = Hex.encode(Crypto.hmacSHA256(key: key, Array(stringToSign.utf8)))
        var sent = headers.filter { $0.name.lowercased() != "host" } // libcurl writes Host itself
        sent.append(("x-amz-date", amzDate))
        if let sessionToken { sent.append(("x-amz-security-token", sessionToken.reveal())) }
        sent.append(("Authorization", "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/\(scope), SignedHeaders=\(signedHeaders), Signature=\(signature)"))
        return Signed(headers: sent, canonicalRequest: canonicalRequest, stringToSign: stringToSign)
    }

    /// `20150830T123600Z` for a Unix time.
    public static func amzDate(_ seconds: Double) -> String {
        let time = CalendarTime.utc(seconds)
        return time.date.replacingAll("-", with: "") + "T" + time.clock.replacingAll(":", with: "") + "Z"
    }

    static func trimmedHeaderValue(_ value: String) -> String {
        var out = ""
        var lastWasSpace = false
        for character in Substring(value).trimmingWhitespace {
            if character == " " {
                if !lastWasSpace { out.append(" ") }
                lastWasSpace = true
            } else {
                out.append(character)
                lastWasSpace = false
            }
        }
        return out
    }

    /// Each byte outside the unreserved set (A–Z a–z 0–9 - . _ ~) as %XX, uppercase; `/` kept
    /// when `keepSlash` (object paths).
    public static func uriEncode(_ text: String, keepSlash: Bool = false) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func canonicalURI(_ path: String) -> String { path.isEmpty ? "/" : uriEncode(path, keepSlash: true) }

    /// Sorted by encoded name then encoded value; a parameter without a value is `name=`.
    public static func canonicalQuery(_ query: [(name: String, value: String)]) -> String {
        query.map { (uriEncode($0.name), uriEncode($0.value)) }
            .sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }
}

extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for character in self { if character == target { out += replacement } else { out.append(character) } }
        return out
    }
}
