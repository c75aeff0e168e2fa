import MastiffCore
import MastiffTestSupport
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
        var template = Array(ScratchDirectory.template("mastiff-secret").utf8CString)
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

/// Which values of a libpq connection string are secret, read as libpq reads it.
@Suite struct ConnectionStringSecretsTests {
    @Test(arguments: [
        ("host=db user=mastodon password=hunter2", ["hunter2"]),
        ("password='correct horse' dbname=x", ["correct horse"]),
        (#"password='it\'s' sslpassword = k3y"#, ["it's", "k3y"]),
        // Malformed: every word up to the next keyword libpq knows may be quoted back.
        ("password=correct horse battery dbname=x", ["correct", "horse", "battery"]),
        ("password=correct horse=battery st@ple=%41 user=u", ["correct", "horse", "battery", "st@ple", "%41"]),
        ("password='unterminated and more", ["unterminated", "and", "more"]),
        // URIs: raw, decoded, and both readings of a literal "@".
        ("postgresql://u:p%40ss%20word@host/db", ["p%40ss%20word", "p@ss word", "p@ss", "word"]),
        ("postgres://u:st@ple@127.0.0.1/db", ["st", "st@ple", "ple"]),
        ("postgresql:///db?user=u&password=s%3Dcret", ["s%3Dcret", "s=cret"]),
        ("host=/var/run/postgresql dbname=mastodon_production user=mastodon", []),
    ])
    func secretValuesAreFound(conninfo: String, expected: [String]) {
        let found = Set(ConnectionStringSecrets.values(in: conninfo))
        for value in expected { #expect(found.contains(value), "\(value) not found in \(found)") }
        #expect(!found.contains("host") && !found.contains("dbname") && !found.contains("db"))
    }
}

@Suite struct PostgresDSNTests {
    @Test func aRawAtInAURIPasswordIsRefusedWithoutTheValue() {
        let text = "collectors:\n  postgres: {dsn: \"postgresql://mastodon:st@ple secret@127.0.0.1/mastodon\"}\n"
        #expect {
            _ = try ConfigLoader.parse(text, file: "m.yml")
        } throws: { error in
            let message = "\(error)"
            return message.hasPrefix("m.yml:2:19: collectors.postgres.dsn: the user info of a postgresql:// URI holds a raw '@'")
                && !message.contains("ple") && !message.contains("secret")
        }
        #expect(throws: Never.self) {
            _ = try ConfigLoader.parse("collectors:\n  postgres: {dsn: \"postgresql://mastodon:st%40ple@127.0.0.1/mastodon\"}\n", file: "m.yml")
        }
    }
}
