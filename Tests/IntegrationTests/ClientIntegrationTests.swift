import Foundation
import MastiffClients
import MastiffCore
import Testing

/// libpq and hiredis against the real PostgreSQL and Redis that scripts/test.sh starts.
@Suite struct ClientIntegrationTests {
    @Test func libpqConnectsOverTheUnixSocketAndQueries() async throws {
        let dsn = try Harness.environment("MASTIFF_TEST_PG_DSN")
        let connection = try await PostgresConnection.connect(Secret(dsn))
        let rows = try await connection.query("SELECT version(), 1 + 1, NULL::text")
        #expect(rows.count == 1)
        #expect(rows[0][0]?.hasPrefix("PostgreSQL ") == true)
        #expect(rows[0][1] == "2")
        #expect(rows[0][2] == nil)
        #expect(connection.serverVersion >= 120_000)
    }

    /// PostgreSQL configured where no server has a socket (the embedded default on a host
    /// without PostgreSQL, or one that is stopped): the collector fails with libpq's own words,
    /// and libpq (with OpenSSL, Kerberos and LDAP behind it) is never loaded for it. An agent
    /// with a server that answers does load it.
    @Test func aMissingSocketFailsInLibpqsWordsWithoutLoadingLibpq() async throws {
        let empty = try Harness.temporaryDirectory().path
        let psql = try Harness.run(try Harness.which("psql"), ["-h", empty, "-U", "postgres", "-d", "postgres", "-c", "SELECT 1"])
        let libpqSays = try #require(psql.stderr.split(separator: "\n").first.map { $0.replacingOccurrences(of: "psql: error: ", with: "") })
        #expect(libpqSays.contains(empty + "/.s.PGSQL.5432"), "\(psql.stderr)")

        // Read whole with cat: Foundation reads a /proc file (size 0) only in part.
        func mapsLibpq(_ agent: RunningMastiff) throws -> Bool {
            try Harness.run("/bin/cat", ["/proc/\(agent.process.processIdentifier)/maps"]).stdout.contains("libpq.so")
        }
        let down = try RunningMastiff(arguments: ["--config", try Harness.writeConfig(collectors: ["postgres": "{dsn: \"host=\(empty) dbname=postgres user=postgres\"}"],
                                                                                     "sampling: {interval: 1s}\nstatsd: {enabled: false}\n")])
        #expect(try await down.reaches("postgres_up", 0))
        #expect(try await down.reaches("mastiff_collector_success{collector=\"postgres\"}", 0))
        let escaped = libpqSays.replacingOccurrences(of: "\"", with: "\\\"")
        #expect(down.log.contains(libpqSays) || down.log.contains(escaped), "libpq says: \(libpqSays)\nmastiff's log:\n\(down.log)")
        #expect(try !mapsLibpq(down))

        let up = try RunningMastiff(arguments: ["--config", try Harness.writeConfig(collectors: ["postgres": "{dsn: \"\(try Harness.environment("MASTIFF_TEST_PG_DSN"))\"}"],
                                                                                   "sampling: {interval: 1s}\nstatsd: {enabled: false}\n")])
        #expect(try await up.reaches("postgres_up", 1))
        #expect(try mapsLibpq(up))
    }

    @Test func libpqPasswordOverTcpAndAWrongPasswordIsNotLogged() async throws {
        let dsn = try Harness.environment("MASTIFF_TEST_PG_TCP_DSN")
        let password = try Harness.environment("MASTIFF_TEST_PG_PASSWORD")
        let good = try await PostgresConnection.connect(Secret(dsn + " password=\(password)"))
        #expect(try await good.query("SELECT current_user")[0][0] == "postgres")

        do {
            _ = try await PostgresConnection.connect(Secret(dsn + " password=wrong-pass-xyz"))
            Issue.record("expected the wrong password to fail")
        } catch {
            let text = "\(error)"
            #expect(text.contains("password authentication failed for user \"postgres\""))
            #expect(!text.contains("wrong-pass-xyz"))
        }
    }

    @Test func libpqQueryErrorsAreReported() async throws {
        let connection = try await PostgresConnection.connect(Secret(try Harness.environment("MASTIFF_TEST_PG_DSN")))
        await #expect(throws: ClientError.self) { try await connection.query("SELECT * FROM no_such_table") }
        // The connection stays usable after an error.
        #expect(try await connection.query("SELECT 42")[0][0] == "42")
    }

    @Test func hiredisPingsAndIsBinarySafe() async throws {
        let port = Int(try Harness.environment("MASTIFF_TEST_REDIS_PORT"))!
        let redis = try await RedisConnection.connect(.tcp(host: "127.0.0.1", port: port))
        #expect(try await redis.command(["PING"]) == .status("PONG"))
        let key = "mastiff:test:\(UUID().uuidString)"
        #expect(try await redis.command(["SET", key, "a value with spaces\r\nand CRLF"]) == .status("OK"))
        #expect(try await redis.command(["GET", key]) == .string("a value with spaces\r\nand CRLF"))
        #expect(try await redis.command(["LPUSH", key + ":list", "x", "y"]) == .integer(2))
        #expect(try await redis.command(["LRANGE", key + ":list", "0", "-1"]) == .array([.string("y"), .string("x")]))
        #expect(try await redis.command(["GET", key + ":missing"]) == .null)
        if case .error(let message) = try await redis.command(["NOSUCHCOMMAND"]) {
            #expect(message.hasPrefix("ERR unknown command"))
        } else {
            Issue.record("expected an error reply")
        }
        _ = try await redis.command(["DEL", key, key + ":list"])
    }

    @Test func hiredisConnectionRefusedIsAClientError() async throws {
        do {
            _ = try await RedisConnection.connect(.tcp(host: "127.0.0.1", port: 1), timeoutMilliseconds: 500)
            Issue.record("expected connection refused")
        } catch let error as ClientError {
            #expect(error.kind == .connect)
            #expect(error.description.contains("Connection refused"))
        }
    }

    @Test func redactionRemovesPasswordsAndURLCredentials() {
        #expect(Redaction.clean("host=db password=s3cret user=x") == "host=db password=<redacted> user=x")
        #expect(Redaction.clean("password='two words' next") == "password=<redacted> next")
        #expect(Redaction.clean("redis://user:pa55@127.0.0.1:6379/0 refused") == "redis://<redacted>@127.0.0.1:6379/0 refused")
        #expect(Redaction.clean("line one\nline two\n") == "line one; line two")
    }
}
