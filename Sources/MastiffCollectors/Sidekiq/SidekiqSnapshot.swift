import MastiffCore

/// What Sidekiq keeps in Redis, decoded. Pure parsing of Redis replies, shared by the collector
/// and its fixture tests (Sidekiq 6, 7 and 8 field formats).
public enum SidekiqParsing {
    /// Sidekiq ≤ 7 writes timestamps as float seconds, Sidekiq 8 as integer milliseconds. The
    /// magnitude tells them apart: seconds since 1970 stay below 1e11 until the year 5138.
    public static func epochSeconds(_ value: Double) -> Double {
        value > 1e11 ? value / 1000 : value
    }

    /// Latency of a queue from its oldest job (LINDEX queue:NAME -1): now - enqueued_at.
    public static func latency(oldestJob: String?, now: Double) -> Double {
        guard let oldestJob, let job = JSONValue.parse(oldestJob) else { return 0 }
        // Sidekiq itself falls back to created_at when enqueued_at is missing.
        guard let stamp = (job["enqueued_at"] ?? job["created_at"])?.double else { return 0 }
        return max(0, now - epochSeconds(stamp))
    }

    public struct Process: Equatable, Sendable {
        public var identity: String
        public var hostname: String
        public var busy: Double
        public var concurrency: Double
        public var quiet: Bool
        public var rssBytes: Double
        public var beat: Double
        public var pid: Int?
        public var queues: [String] = []
        /// `tag` from its info (Sidekiq's -g, or the application's directory name).
        public var tag: String = ""
        /// Jobs it is running now (`<identity>:work`), and when the newest of them started.
        public var runningJobs = 0
        public var newestJobStart: Double?

        public init(identity: String, hostname: String, busy: Double, concurrency: Double, quiet: Bool, rssBytes: Double, beat: Double,
                    pid: Int? = nil, queues: [String] = [], tag: String = "") {
            self.identity = identity
            self.hostname = hostname
            self.busy = busy
            self.concurrency = concurrency
            self.quiet = quiet
            self.rssBytes = rssBytes
            self.beat = beat
            self.pid = pid
            self.queues = queues
            self.tag = tag
        }

        /// Alive (a heartbeat within a minute), not quiet, nothing started for `stallAfter`
        /// while a queue it serves has a job waiting longer than that: it takes no work.
        public func isStalled(now: Double, stallAfter: Double, queueLatency: [String: Double]) -> Bool {
            guard now - beat < 60, !quiet else { return false }
            if let newest = newestJobStart, now - newest < stallAfter { return false }
            return queues.contains { (queueLatency[$0] ?? 0) > stallAfter }
        }

        /// What the policies see of it.
        public var sample: SidekiqProcessSample {
            SidekiqProcessSample(identity: identity, hostname: hostname, pid: pid, queues: queues, busy: Int(saturating: busy),
                                 concurrency: Int(saturating: concurrency), quiet: quiet, lastBeat: beat)
        }
    }

    /// A process from HMGET identity info busy beat quiet rss concurrency. `concurrency` is
    /// its own field from Sidekiq 8.1; before that it is inside the `info` JSON.
    public static func process(identity: String, fields: [String?]) -> Process? {
        guard fields.count >= 6, let infoText = fields[0], let info = JSONValue.parse(infoText) else { return nil }
        let concurrency = fields[5].flatMap(Double.init) ?? info["concurrency"]?.double ?? 0
        return Process(
            identity: identity,
            hostname: info["hostname"]?.string ?? "",
            busy: fields[1].flatMap(Double.init) ?? 0,
            concurrency: concurrency,
            quiet: fields[3] == "true",
            rssBytes: (fields[4].flatMap(Double.init) ?? 0) * 1024,
            beat: fields[2].flatMap(Double.init).map(epochSeconds) ?? 0,
            // Whatever can write to Redis wrote this: a pid that is no positive whole number is none.
            pid: info["pid"]?.double.flatMap { Int(exactWhole: $0) }.flatMap { $0 > 0 ? $0 : nil },
            // Sidekiq 6 repeats a queue once per weight: each queue once.
            queues: (info["queues"]?.array?.compactMap(\.string) ?? []).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } },
            tag: info["tag"]?.string ?? "")
    }

    /// One entry of `<identity>:work`: the queue and when the job started.
    public static func work(_ text: String) -> (queue: String, runAt: Double)? {
        guard let work = JSONValue.parse(text), let runAt = work["run_at"]?.double else { return nil }
        var queue = work["queue"]?.string
        if queue == nil {
            // Sidekiq 6 nests the payload as a JSON string, 7+ as an object.
            let payload = work["payload"]
            queue = payload?["queue"]?.string ?? payload?.string.flatMap { JSONValue.parse($0)?["queue"]?.string }
        }
        guard let queue else { return nil }
        return (queue, epochSeconds(runAt))
    }
}
