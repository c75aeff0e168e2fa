import MastiffCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite struct SecretTests {
    @Test func environmentReferencesAreResolvedAndNeverPrinted() throws {
        let environment = ["SMTP_PASSWORD": "hunter2", "USER_NAME": "mastodon"]
        let secret = try Secret.resolve("user=${USER_NAME} password=${SMTP_PASSWORD}", environment: { environment[$0] })
        #expect(secret.reveal() == "user=mastodon password=hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
    }

    @Test func unsetVariableIsNamedButNoValueLeaks() {
        do {
            _ = try Secret.resolve("${MISSING_VAR}", environment: { _ in nil })
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "environment variable MISSING_VAR is not set")
        }
    }

    @Test func fileReferenceDropsTrailingNewline() throws {
        var template = Array("/tmp/mastiff-secret-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        #expect(fd >= 0)
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let contents = Array("s3cr3t\n".utf8)
        _ = contents.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(try Secret.resolve("file:\(path)", environment: { _ in nil }).reveal() == "s3cr3t")
    }

    @Test func unreadableSecretFileIsAConfigErrorWithoutContents() {
        let node = try! ConfigNode.parse("password: file:/nonexistent/secret\n", file: "s.yml")
        let map = try! node.mapping(allowing: ["password"])
        #expect(throws: ConfigError.self) { try map["password"]!.secret() }
        do {
            _ = try map["password"]!.secret()
        } catch {
            #expect(error.description.hasPrefix("s.yml:1:11: password: secret file: cannot read /nonexistent/secret"))
        }
    }

    /// A password that happens to contain "${" must not be echoed back by the error.
    @Test func malformedReferenceDoesNotRepeatTheText() {
        for text in ["pass${word with spaces}", "pa${ss", "x${}y"] {
            do {
                _ = try Secret.resolve(text, environment: { _ in nil })
                Issue.record("expected an error for a malformed reference")
            } catch {
                #expect(!error.message.contains("word"))
                #expect(!error.message.contains("pass"))
                #expect(!error.message.contains("ss"))
                #expect(error.message.contains("file:"))
            }
        }
    }
}
