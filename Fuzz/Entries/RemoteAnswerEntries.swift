import MastiffAgent
import MastiffClients
import MastiffCollectors
import MastiffCore
import MastiffPolicies
import MastiffServer
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The entries for what arrives over a connection or from a file another party can write: S3's
/// answers, Redis's and Sidekiq's, age files on restore, backup manifests, the state file and
/// HTTP requests. Each is the same pure function the agent calls on the real answer.
extension FuzzEntries {
    /// S3 answers: a ListObjectsV2 page, a ListMultipartUploads page and an error body.
    static func s3Answer(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        _ = S3Client.objectsPage(text, prefix: "mastiff/")
        _ = S3Client.uploadsPage(text, prefix: "mastiff/")
        _ = S3Client.error(in: text, status: 503, operation: "ListObjectsV2").description
    }

    /// Redis and Sidekiq: the input split at its first NUL byte into an INFO answer (parsed and
    /// turned into metrics, keyspace included) and a Sidekiq record (a process's info JSON, a
    /// running job, the oldest job of a queue).
    static func redisAnswer(_ bytes: UnsafeRawBufferPointer) {
        let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let info = parts.first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        let record = parts.count > 1 ? String(decoding: parts[1], as: UTF8.self) : info
        let fields = RedisInfoParser.parse(info)
        let sink = MetricSink()
        RedisMetrics.emit(fields, into: sink)
        _ = RedisInfoParser.keyspace(fields)
        _ = SidekiqParsing.process(identity: "host:1:abc", fields: [record, "1", "0", "1800000000", "0", "5"])
        _ = SidekiqParsing.work(record)
        _ = SidekiqParsing.latency(oldestJob: record, now: 1_796_458_420)
    }

    /// An age file on restore, decrypted with a fixed identity (a test key, in no backup): the
    /// header's stanzas and the payload's chunks, fed in two pieces as a download delivers them.
    static func ageFile(_ bytes: UnsafeRawBufferPointer) {
        var decryptor = AgeDecryptor(identities: [ageIdentity])
        let split = bytes.count / 3
        do {
            try decryptor.update(UnsafeRawBufferPointer(rebasing: bytes[..<split])) { _ in }
            try decryptor.update(UnsafeRawBufferPointer(rebasing: bytes[split...])) { _ in }
            try decryptor.finish { _ in }
        } catch {}
    }

    /// A backup manifest read back from the bucket (anyone who can write there wrote it): parsed
    /// and checked, then written again as the agent would.
    static func manifest(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let manifest = try? BackupManifest.parse(text, key: "mastiff/postgres/20261205T030000Z.dump.manifest.json", now: 1_796_458_420) else { return }
        _ = manifest.json(signature: manifest.signature)
        _ = manifest.signedText()
    }

    /// The state file, as a restart reads it: its sections restored into the notification,
    /// alerting and restart policies, which then take a step and save again.
    static func stateFile(_ bytes: UnsafeRawBufferPointer) {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let document = JSONValue.parse(text), document["format_version"]?.double != nil,
              case .object(let sections)? = document["sections"] else { return }
        let now = 1_796_458_420.0
        if let saved = sections["notifications"] {
            var notifications = NotificationPolicy(settings: stateSettings.alerts)
            _ = notifications.restore(saved)
            _ = notifications.due(now: now)
            _ = notifications.nextDue()
            _ = notifications.savedState().serialized()
        }
        if let saved = sections["alerts"] {
            var engine = RuleEngine(groups: stateRules)
            engine.restore(saved, now: Int64(now * 1000))
            _ = engine.savedState(now: Int64(now * 1000)).serialized()
        }
        if let saved = sections["restarts"] {
            var restarts = RestartPolicy(targets: stateSettings.restarts, startedAt: now)
            restarts.restore(saved)
            for target in stateSettings.restarts { _ = restarts.budgetRemaining(target.name, now: now) }
            _ = restarts.savedState().serialized()
        }
    }

    /// A control-socket request (any local user in the socket's group may send one): its JSON,
    /// the matchers and length of a silence checked as the agent checks them (regexes through
    /// RE2), and the silence then added to a policy and matched against an alert.
    static func controlRequest(_ bytes: UnsafeRawBufferPointer) {
        guard let request = JSONValue.parse(String(decoding: bytes, as: UTF8.self)), request["command"]?.string != nil else { return }
        let matchers = (request["matchers"]?.array ?? []).compactMap { $0.string.flatMap(ControlCommands.parseMatcher) }
        let seconds = request["seconds"].flatMap(ControlCommands.holdSeconds) ?? 60
        var policy = NotificationPolicy(settings: stateSettings.alerts)
        let now = 1_796_458_420.0
        if !matchers.isEmpty {
            _ = policy.addSilence(matchers: matchers, startsAt: now, endsAt: now + seconds, comment: request["comment"]?.string ?? "")
        }
        policy.observe([NotifiedAlert(labels: [Label("alertname", "SidekiqRetriesGrowing"), Label("queue", "push")], annotations: [], status: .firing,
                                      startsAt: now - 60, endsAt: nil, value: 1)], now: now)
        _ = policy.activeSilences(at: now)
        _ = policy.savedState().serialized()
    }

    /// An HTTP request as a client sends it, through the server's own pipeline (header deadline,
    /// NIO's codec with its error handling) in an EmbeddedChannel, with the clock moved past the
    /// header deadline; each request head is then read the way the server reads it.
    static func httpRequest(_ bytes: UnsafeRawBufferPointer) {
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        guard (try? HTTPServer.configureConnection(channel, limits: HTTPLimits(), tls: nil)) != nil else { return }
        // Two writes, as a slow client's bytes arrive.
        let split = bytes.count / 2
        for piece in [bytes[..<split], bytes[split...]] where !piece.isEmpty {
            guard (try? channel.writeInbound(channel.allocator.buffer(bytes: UnsafeRawBufferPointer(rebasing: piece)))) != nil else { return }
            while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
                guard case .head(let head) = part else { continue }
                _ = HTTPServer.path(of: head.uri)
                _ = BasicAuthenticator.credentials(head.headers["Authorization"].first)
                _ = Gzip.isAccepted(by: head.headers["Accept-Encoding"].joined(separator: ","))
            }
        }
        channel.embeddedEventLoop.advanceTime(by: .seconds(11))
    }
}

extension FuzzEntries {
    /// The age-file target's identity: a key made for the fuzz seeds (Fuzz/Corpus/age-file are
    /// encrypted to it), protecting nothing.
    public static let ageIdentityText = "AGE-SECRET-KEY-14VL3VKD4D5365C6HDHHE5GA5SMJZAT2EU03V68HCYFDJ0DYG7JGQG403QE"
}

private let ageIdentity = try! AgeIdentity(FuzzEntries.ageIdentityText)

/// A configuration with receivers and restart targets for the state file's sections to land in.
private let stateSettings = try! ConfigLoader.parse("""
    alerts:
      receivers:
        - name: ops
          webhook: {url: "http://127.0.0.1:9/hook"}
    restarts:
      - {name: sidekiq, group: sidekiq, max_memory: 1GiB, signal: TERM, user: "991"}
    """, file: "fuzz.yml", environment: { _ in nil })

private let stateRules = try! RuleFileLoader.load(text: """
    groups:
      - name: g
        rules:
          - alert: Down
            expr: up == 0
            for: 1m
    """, file: "fuzz.rules.yml")
