import Foundation
import MastiffClients
import MastiffCore
import MastiffTestSupport
import Testing

/// Redis with a password, an ACL user and a Unix socket only (no TCP), as a hardened Mastodon
/// host runs it.
@Suite(.serialized) struct RedisAuthTests {
    @Test func aclUserOverAUnixSocketAndRefusedCredentials() async throws {
        let directory = try Harness.temporaryDirectory().path
        let socket = directory + "/redis.sock"
        let status = try Harness.runLeavingServers(try Harness.which("redis-server"), [
            "--port", "0", "--unixsocket", socket, "--unixsocketperm", "700", "--daemonize", "yes",
            "--pidfile", directory + "/redis.pid", "--dir", directory, "--save", "", "--appendonly", "no",
            "--requirepass", "default-secret",
            "--user", "mastiff", "on", ">mastiff-secret", "+info", "+ping", "+smembers", "+get", "+zcard", "+pfcount",
            "+llen", "+lindex", "+hmget", "+hgetall", "+select", "allkeys",
        ], log: directory + "/start.log")
        #expect(status == 0)
        defer {
            if let pid = Int32((try? String(contentsOfFile: directory + "/redis.pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
                kill(pid, SIGKILL)
            }
        }
        try await waitUntil { FileManager.default.fileExists(atPath: socket) }

        let good = try RedisURL.parse("unix://mastiff:mastiff-secret@\(socket)?db=0").get()
        let redis = try await RedisConnection.connect(good)
        #expect(try await redis.command(["PING"]) == .status("PONG"))

        do {
            _ = try await RedisConnection.connect(try RedisURL.parse("unix://mastiff:wrong-secret@\(socket)").get())
            Issue.record("expected AUTH to be refused")
        } catch {
            #expect("\(error)".contains("WRONGPASS"))
            #expect(!"\(error)".contains("wrong-secret"))
        }

        // Through mastiff, with the password from the environment.
        let config = try Harness.writeConfig("""
        collectors:
          processes: {enabled: false}
          postgres: {enabled: false}
          redis: {url: "unix://mastiff:${REDIS_PASSWORD}@\(socket)"}
        """)
        let result = try Harness.run(Harness.binary, ["collect", "--once", "--config", config],
                                     environment: ProcessInfo.processInfo.environment.merging(["REDIS_PASSWORD": "mastiff-secret"]) { $1 })
        #expect(sampleValue(result.stdout, "redis_up") == 1, "stderr: \(result.stderr)")
        #expect(sampleValue(result.stdout, "sidekiq_up") == 1)
        #expect(!result.stdout.contains("mastiff-secret") && !result.stderr.contains("mastiff-secret"))
    }
}
