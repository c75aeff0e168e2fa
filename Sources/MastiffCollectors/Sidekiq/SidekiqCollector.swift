import MastiffClients
import MastiffCore

/// Sidekiq's queues, sets, processes and running jobs, and Mastodon's monthly active users, read
/// from the Redis Sidekiq uses in two pipelined round trips (the names, then everything per queue
/// and per process).
public struct SidekiqCollector: Collector {
    public let name = "sidekiq"
    public var upMetric: (name: String, help: String)? { ("sidekiq_up", Self.upHelp) }
    static let upHelp = "Whether the last read of Sidekiq's data from Redis succeeded."
    private let session: ReconnectingSession<RedisConnection>
    private let prefix: String
    private let stallAfter: Duration
    private let clock: any WallClock

    /// `stallAfter`: how long a live process may start no job while its queues wait before it
    /// counts as stalled (`collectors.sidekiq.stall_after`).
    public init(url: RedisURL, namespace: String, collectorTimeout: Duration, stallAfter: Duration = .seconds(600),
                clock: any WallClock = SystemWallClock()) {
        let milliseconds = SourceDeadline.milliseconds(within: collectorTimeout)
        session = ReconnectingSession { try await RedisConnection.connect(url, timeoutMilliseconds: milliseconds) }
        prefix = namespace.isEmpty ? "" : namespace + ":"
        self.stallAfter = stallAfter
        self.clock = clock
    }

    public func collect(into sink: MetricSink) async throws {
        let prefix = self.prefix
        let now = clock.now()
        let data: SidekiqData
        do {
            data = try await session.withConnection { redis in try await Self.read(redis, prefix: prefix, now: now) }
        } catch {
            reportDown("\(error)", into: sink)
            return
        }
        reportUp(into: sink)
        SidekiqMetrics.emit(data, now: now, stallAfter: stallAfter.seconds, into: sink)
        sink.views.sidekiqProcesses = data.processes.map(\.sample)
    }

    static func read(_ redis: RedisConnection, prefix: String, now: Double) async throws -> SidekiqData {
        // Mastodon's ActivityTracker: one HyperLogLog per UTC day, `activity:logins:<day start>`.
        let today = (now / 86400).rounded(.down) * 86400
        let loginKeys = (0..<30).map { "\(prefix)activity:logins:\(Int(today) - $0 * 86400)" }
        let first = try await redis.pipeline([
            ["SMEMBERS", prefix + "queues"],
            ["SMEMBERS", prefix + "processes"],
            ["GET", prefix + "stat:processed"],
            ["GET", prefix + "stat:failed"],
            ["ZCARD", prefix + "schedule"],
            ["ZCARD", prefix + "retry"],
            ["ZCARD", prefix + "dead"],
            ["PFCOUNT"] + loginKeys,
        ])
        if let error = first.first(where: { if case .error = $0 { return true } else { return false } }), case .error(let message) = error {
            throw ClientError(.query, system: "redis", reason: message)
        }
        let queues = first[0].strings.sorted()
        let identities = first[1].strings.sorted()
        var second: [[String]] = []
        for queue in queues {
            second.append(["LLEN", prefix + "queue:" + queue])
            second.append(["LINDEX", prefix + "queue:" + queue, "-1"])
        }
        for identity in identities {
            second.append(["HMGET", prefix + identity, "info", "busy", "beat", "quiet", "rss", "concurrency"])
            // Running jobs: `<identity>:work` from Sidekiq 7 on, `<identity>:workers` before.
            second.append(["HGETALL", prefix + identity + ":work"])
            second.append(["HGETALL", prefix + identity + ":workers"])
        }
        let replies = try await redis.pipeline(second)
        var data = SidekiqData()
        data.processed = first[2].number
        data.failed = first[3].number
        data.scheduled = first[4].number ?? 0
        data.retries = first[5].number ?? 0
        data.dead = first[6].number ?? 0
        data.monthlyActiveUsers = first[7].number
        for (index, queue) in queues.enumerated() {
            let size = replies[2 * index].number ?? 0
            data.queues.append(.init(name: queue, size: size,
                                     latency: SidekiqParsing.latency(oldestJob: replies[2 * index + 1].text, now: now)))
        }
        let offset = 2 * queues.count
        for (index, identity) in identities.enumerated() {
            let fields = replies[offset + 3 * index].optionalStrings
            var process = SidekiqParsing.process(identity: identity, fields: fields)
            if process == nil { data.malformed += 1 }
            let work = replies[offset + 3 * index + 1].strings + replies[offset + 3 * index + 2].strings
            // HGETALL alternates field (thread id) and value (the work JSON).
            for value in stride(from: 1, to: work.count, by: 2) {
                if let job = SidekiqParsing.work(work[value]) {
                    data.runningJobs.append(.init(queue: job.queue, runAt: job.runAt))
                    let newest = max(process?.newestJobStart ?? job.runAt, job.runAt)
                    process?.runningJobs += 1
                    process?.newestJobStart = newest
                }
            }
            if let process { data.processes.append(process) }
        }
        return data
    }
}

public struct SidekiqData: Sendable, Equatable {
    public struct Queue: Sendable, Equatable {
        public var name: String
        public var size: Double
        public var latency: Double

        public init(name: String, size: Double, latency: Double) {
            self.name = name
            self.size = size
            self.latency = latency
        }
    }

    public struct RunningJob: Sendable, Equatable {
        public var queue: String
        public var runAt: Double
    }

    public var queues: [Queue] = []
    public var processes: [SidekiqParsing.Process] = []
    public var runningJobs: [RunningJob] = []
    public var processed: Double?
    public var failed: Double?
    public var scheduled: Double = 0
    public var retries: Double = 0
    public var dead: Double = 0
    public var monthlyActiveUsers: Double?
    public var malformed = 0

    public init() {}
}

/// SidekiqData → samples. Pure.
public enum SidekiqMetrics {
    public static func emit(_ data: SidekiqData, now: Double, stallAfter: Double = 600, into sink: MetricSink) {
        if data.malformed > 0 { sink.recordError(reason: "malformed", count: data.malformed) }
        sink.declare("sidekiq_queue_size", help: "Jobs waiting in the queue.", type: .gauge)
        sink.declare("sidekiq_queue_latency_seconds", help: "Age of the oldest job waiting in the queue (Mastodon backs off above 5 s for default, 10 s push, 300 s pull).", type: .gauge)
        for queue in data.queues {
            let labels = [Label("queue", queue.name)]
            sink.gauge("sidekiq_queue_size", help: "", queue.size, labels: labels)
            sink.gauge("sidekiq_queue_latency_seconds", help: "", queue.latency, labels: labels)
        }
        if let processed = data.processed { sink.counter("sidekiq_processed_jobs_total", help: "Jobs processed (stat:processed).", processed) }
        if let failed = data.failed { sink.counter("sidekiq_failed_jobs_total", help: "Jobs that raised (stat:failed).", failed) }
        sink.gauge("sidekiq_scheduled_jobs", help: "Jobs in the schedule set.", data.scheduled)
        sink.gauge("sidekiq_retry_jobs", help: "Jobs in the retry set.", data.retries)
        sink.gauge("sidekiq_dead_jobs", help: "Jobs in the dead set.", data.dead)

        let perHost: [(String, String, (SidekiqParsing.Process) -> Double, Bool)] = [
            ("sidekiq_processes", "Sidekiq processes with a heartbeat in the processes set.", { _ in 1 }, false),
            ("sidekiq_busy_threads", "Threads working on a job.", { $0.busy }, false),
            ("sidekiq_concurrency", "Threads configured (concurrency), summed.", { $0.concurrency }, false),
            ("sidekiq_quiet_processes", "Processes told to stop fetching jobs (TSTP).", { $0.quiet ? 1 : 0 }, false),
            ("sidekiq_resident_memory_bytes", "RSS reported by the Sidekiq processes themselves, summed.", { $0.rssBytes }, false),
        ]
        let hosts = Dictionary(grouping: data.processes, by: \.hostname)
        for (metric, help, value, _) in perHost {
            sink.declare(metric, help: help, type: .gauge)
            for (host, processes) in hosts.sorted(by: { $0.key < $1.key }) {
                sink.gauge(metric, help: help, processes.reduce(0) { $0 + value($1) }, labels: [Label("hostname", host)])
            }
        }
        sink.declare("sidekiq_heartbeat_age_seconds", help: "Seconds since the stalest process on the host last beat (Sidekiq beats every 10 s).", type: .gauge)
        for (host, processes) in hosts.sorted(by: { $0.key < $1.key }) {
            let stalest = processes.map { max(0, now - $0.beat) }.max() ?? 0
            sink.gauge("sidekiq_heartbeat_age_seconds", help: "", stalest, labels: [Label("hostname", host)])
        }
        sink.declare("sidekiq_queue_longest_running_job_seconds", help: "Run time of the longest-running job from the queue.", type: .gauge)
        let longest = Dictionary(grouping: data.runningJobs, by: \.queue).mapValues { jobs in jobs.map { max(0, now - $0.runAt) }.max() ?? 0 }
        for (queue, seconds) in longest.sorted(by: { $0.key < $1.key }) {
            sink.gauge("sidekiq_queue_longest_running_job_seconds", help: "", seconds, labels: [Label("queue", queue)])
        }
        // Which queues a live process serves: a queue with jobs and no process is never worked.
        let live = data.processes.filter { now - $0.beat < 60 && !$0.quiet }
        sink.declare("sidekiq_queue_processes", help: "Live, not quiet Sidekiq processes (heartbeat within 60 s) that serve the queue, across every host.", type: .gauge)
        for queue in Set(data.queues.map(\.name) + live.flatMap(\.queues)).sorted() {
            sink.gauge("sidekiq_queue_processes", help: "", Double(live.filter { $0.queues.contains(queue) }.count), labels: [Label("queue", queue)])
        }
        let latency = Dictionary(data.queues.map { ($0.name, $0.latency) }, uniquingKeysWith: max)
        sink.declare("sidekiq_process_stalled",
                     help: "1 when a live Sidekiq process started no job for collectors.sidekiq.stall_after while a queue it serves had a job waiting longer.",
                     type: .gauge)
        for process in data.processes.sorted(by: { $0.identity < $1.identity }) {
            let labels = [Label("hostname", process.hostname), Label("pid", process.pid.map(String.init) ?? ""), Label("tag", process.tag)]
            sink.gauge("sidekiq_process_stalled", help: "", process.isStalled(now: now, stallAfter: stallAfter, queueLatency: latency) ? 1 : 0, labels: labels)
        }
        if let users = data.monthlyActiveUsers {
            sink.gauge("mastodon_monthly_active_users", help: "Distinct users who logged in during the last 30 days (Mastodon's activity:logins HyperLogLogs).", users)
        }
    }
}

extension RedisReply {
    var strings: [String] {
        guard case .array(let items) = self else { return [] }
        return items.compactMap(\.text)
    }

    var optionalStrings: [String?] {
        guard case .array(let items) = self else { return [] }
        return items.map(\.text)
    }

    var text: String? {
        switch self {
        case .string(let value), .status(let value): return value
        case .integer(let value): return String(value)
        default: return nil
        }
    }

    var number: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .string(let value): return Double(value)
        default: return nil
        }
    }
}
