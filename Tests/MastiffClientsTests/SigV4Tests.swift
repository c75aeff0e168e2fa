import MastiffClients
import MastiffCore
import Testing

/// The signer against AWS's published vectors: the aws-sig-v4-test-suite (service "service",
/// credentials AKIDEXAMPLE, 2015-08-30T12:36:00Z) and the worked S3 examples of the S3 API
/// reference ("Signature Calculations for the Authorization Header"). A signature that differs by
/// one byte in any canonical step fails here.
@Suite struct SigV4Tests {
    let suite = SigV4Signer(accessKeyID: "AKIDEXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
                            region: "us-east-1", service: "service")
    let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    func suiteAuthorization(_ method: String = "GET", path: String = "/", query: [(String, String)] = [], headers: [(String, String)] = [],
                            body: String = "") -> String {
        let signed = suite.sign(method: method, path: path, query: query.map { (name: $0.0, value: $0.1) },
                                headers: [(name: "host", value: "example.amazonaws.com")] + headers.map { (name: $0.0, value: $0.1) },
                                payloadHash: Hex.encode(Crypto.sha256(Array(body.utf8))), amzDate: "20150830T123600Z")
        return signed.authorization
    }

    func expected(_ signedHeaders: String, _ signature: String) -> String {
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=\(signedHeaders), Signature=\(signature)"
    }

    @Test func getVanilla() {
        #expect(suiteAuthorization() == expected("host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"))
    }

    @Test func getVanillaQueryOrderKeyCase() {
        #expect(suiteAuthorization(query: [("Param2", "value2"), ("Param1", "value1")])
            == expected("host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
    }

    @Test func getVanillaQueryOrderValue() {
        #expect(suiteAuthorization(query: [("Param1", "value2"), ("Param1", "value1")])
            == expected("host;x-amz-date", "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694"))
    }

    @Test func getUnreserved() {
        #expect(suiteAuthorization(path: "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
            == expected("host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"))
    }

    @Test func getVanillaUTF8Query() {
        #expect(suiteAuthorization(query: [("\u{1234}", "bar")])
            == expected("host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"))
    }

    @Test func headerValuesTrimmedAndRepeatedNamesJoined() {
        #expect(suiteAuthorization(headers: [("My-Header1", " value1"), ("My-Header2", "\"a   b   c\"")])
            == expected("host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"))
        #expect(suiteAuthorization(headers: [("My-Header1", "value4"), ("My-Header1", "value1"), ("My-Header1", "value3"), ("My-Header1", "value2")])
            == expected("host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"))
    }

    @Test func postFormBody() {
        #expect(suiteAuthorization("POST", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: "Param1=value1")
            == expected("content-type;host;x-amz-date", "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"))
    }

    @Test func sessionTokenIsSigned() {
        var signer = suite
        signer.sessionToken = Secret("6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267")
        let signed = signer.sign(method: "GET", path: "/", query: [], headers: [(name: "host", value: "example.amazonaws.com")],
                                 payloadHash: emptyHash, amzDate: "20150830T123600Z")
        #expect(signed.authorization == expected("host;x-amz-date;x-amz-security-token", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"))
    }

    /// The S3 reference's GET Object example (Range header, x-amz-content-sha256 signed).
    @Test func s3GetObjectExample() {
        let signer = SigV4Signer(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                 region: "us-east-1")
        let signed = signer.sign(method: "GET", path: "/test.txt", query: [],
                                 headers: [(name: "host", value: "examplebucket.s3.amazonaws.com"), (name: "range", value: "bytes=0-9"),
                                           (name: "x-amz-content-sha256", value: emptyHash)],
                                 payloadHash: emptyHash, amzDate: "20130524T000000Z")
        #expect(signed.canonicalRequest == """
        GET
        /test.txt

        host:examplebucket.s3.amazonaws.com
        range:bytes=0-9
        x-amz-content-sha256:\(emptyHash)
        x-amz-date:20130524T000000Z

        host;range;x-amz-content-sha256;x-amz-date
        \(emptyHash)
        """)
        #expect(signed.authorization.hasSuffix("Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"))
    }

    /// The S3 reference's ListObjects example: the query is sorted and `max-keys=2&prefix=J`.
    @Test func s3ListExample() {
        let signer = SigV4Signer(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: Secret("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                                 region: "us-east-1")
        let signed = signer.sign(method: "GET", path: "/", query: [(name: "prefix", value: "J"), (name: "max-keys", value: "2")],
                                 headers: [(name: "host", value: "examplebucket.s3.amazonaws.com"), (name: "x-amz-content-sha256", value: emptyHash)],
                                 payloadHash: emptyHash, amzDate: "20130524T000000Z")
        #expect(signed.authorization.hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func canonicalQueryEncodesUploadIdsAndEmptyValues() {
        #expect(SigV4Signer.canonicalQuery([(name: "uploads", value: "")]) == "uploads=")
        #expect(SigV4Signer.canonicalQuery([(name: "uploadId", value: "a+b/c="), (name: "partNumber", value: "2")]) == "partNumber=2&uploadId=a%2Bb%2Fc%3D")
        #expect(SigV4Signer.amzDate(1_440_938_160) == "20150830T123600Z")
    }
}
