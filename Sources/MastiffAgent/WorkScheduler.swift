import Glibc
import Logging
import MastiffClients
import MastiffCollectors
import MastiffCore
import MastiffExecutors
import MastiffPolicies
import ServiceLifecycle
import Synchronization

/// Runs scheduled work: backups (PostgreSQL, Redis), restore drills and `jobs:`, one at a time
/// per host (a backup and a job never overlap), each at its cron slot plus its fixed jitter.
/// Once-per-cluster work takes a PostgreSQL advisory lock first and is skipped, with a log line
/// and a `skipped` count, when another agent holds it. Last runs are kept in the state file, so
/// a slot missed while mastiff was down runs once at start, and metrics survive restarts.
public final class WorkScheduler: Service, Sendable {
    enum Kind: Sendable, Equatable {
        case backup(String)
        case drill
        case job(JobSpec)
    }

    struct ScheduledTask: Sendable {
        var name: String
        var kind: Kind
        var schedule: WorkSchedule
        var next: Double?
        var deferredSince: Double?
        var oncePerCluster: Bool
    }

    /// What the metrics and `backup list`/status show for one task.
    struct Record: Sendable {
        var lastRun: Double?
        var lastSuccess: Double?
        var lastOK: Bool?
        var lastDuration: Double?
        var lastSize: Double?
        var lastMessage: String?
        var results: [String: Double] = [:]
    }

    /// How a task's last run ended.
    struct Finished: Sendable {
        var result: String
        var message: String
        var at: Double

        var json: JSONValue { .object(["result": .string(result), "message": .string(message), "at": .number(at)]) }
    }

    struct Current: Sendable {
        var task: String
        var startedAt: Double
        var progress: StreamUpload.Progress?
    }

    struct State: Sendable {
        var tasks: [ScheduledTask] = []
        var records: [String: Record] = [:]
        var requests: [String] = []
        var current: Current?
        /// Each task's last end, for `mastiff backup run`'s wait and `mastiff status`.
        var finished: [String: Finished] = [:]
    }

    private let state = Mutex(State())
    private let plan: BackupPlan?
    private let planError: String?
    private let config: MastiffConfig
    private let stateStore: StateStore?
    private let logger: Logger
    private let clock: any WallClock
    private let procRoot: String
    private let isPaused: @Sendable () -> Bool
    /// MemAvailable in bytes from the latest sample, for jobs' `min_available_memory`; without
    /// one, /proc/meminfo is read.
    private let sampledAvailableMemory = Mutex<Double?>(nil)
    private let notify: @Sendable (_ summary: String, _ description: String) -> Void

    public init(config: MastiffConfig, stateStore: StateStore?, logger: Logger, procRoot: String = "/proc", clock: any WallClock = SystemWallClock(),
                isPaused: @escaping @Sendable () -> Bool = { false },
                notify: @escaping @Sendable (_ summary: String, _ description: String) -> Void = { _, _ in }) {
        self.config = config
        self.stateStore = stateStore
        self.logger = logger
        self.clock = clock
        self.procRoot = procRoot
        self.isPaused = isPaused
        self.notify = notify
        var plan: BackupPlan?
        var planError: String?
        if config.backups.enabled {
            do { plan = try BackupPlan(config: config) } catch { planError = error.description }
        }
        self.plan = plan
        self.planError = planError
        let utc = config.backups.utc
        var tasks: [ScheduledTask] = []
        func add(_ name: String, _ kind: Kind, _ cron: String, _ jitter: Duration, _ once: Bool) {
            guard let schedule = try? CronSchedule(cron, utc: utc) else { return }
            tasks.append(ScheduledTask(name: name, kind: kind, schedule: WorkSchedule(name: name, cron: schedule, jitter: jitter), oncePerCluster: once))
        }
        if config.backups.enabled {
            let once = config.backups.oncePerCluster
            if config.backups.postgres.enabled { add("backup/postgres", .backup("postgres"), config.backups.postgres.schedule, config.backups.postgres.jitter, once) }
            if config.backups.redis.enabled { add("backup/redis", .backup("redis"), config.backups.redis.schedule, config.backups.redis.jitter, once) }
            if config.backups.files.enabled { add("backup/files", .backup("files"), config.backups.files.schedule, config.backups.files.jitter, once) }
            if let drill = config.backups.drill.schedule { add("drill", .drill, drill, .zero, once) }
        }
        for job in config.jobs where job.enabled { add("job/\(job.name)", .job(job), job.schedule, job.jitter, job.oncePerCluster) }
        let records = Self.loadRecords(stateStore)
        state.withLock {
            $0.tasks = tasks
            $0.records = records
        }
    }

    public var hasWork: Bool { state.withLock { !$0.tasks.isEmpty } || planError != nil }

    // MARK: Service

    public func run() async throws {
        if let planError { logger.error("backups are enabled but cannot run", metadata: ["error": "\(planError)"]) }
        await startUp()
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    await self.tick()
                    try await Task.sleep(for: .seconds(1))
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// At start: abort this host's orphaned uploads (a crash or SIGKILL mid-upload leaves
    /// one), and schedule every task, running missed slots now.
    func startUp() async {
        if let plan {
            do {
                let aborted = try await plan.storage.abortOrphans(onlyContaining: "-\(plan.host).")
                for upload in aborted {
                    logger.warning("aborted an unfinished backup upload left by an earlier run", metadata: ["key": "\(upload.key)", "initiated": "\(upload.initiated)"])
                }
            } catch {
                logger.warning("could not look for unfinished backup uploads", metadata: ["error": "\(error)"])
            }
        }
        let now = clock.now()
        state.withLock { state in
            for index in state.tasks.indices {
                let task = state.tasks[index]
                state.tasks[index].next = task.schedule.nextRun(lastRun: state.records[task.name]?.lastRun, now: now, atStart: true)
            }
        }
        for task in state.withLock({ $0.tasks }) {
            if let next = task.next {
                logger.info("scheduled", metadata: ["task": "\(task.name)", "next": "\(CalendarTime.utc(next).rfc3339)"])
            }
        }
    }

    func tick() async {
        let now = clock.now()
        let (requested, due) = state.withLock { state -> (String?, ScheduledTask?) in
            if !state.requests.isEmpty { return (state.requests.removeFirst(), nil) }
            return (nil, state.tasks.filter { ($0.next ?? .infinity) <= now }.min { ($0.next ?? 0) < ($1.next ?? 0) })
        }
        if let requested {
            guard let task = state.withLock({ $0.tasks.first { $0.name == requested } }) ?? manualTask(requested) else { return }
            await execute(task, manual: true)
            return
        }
        guard let task = due else { return }
        if case .job(let job) = task.kind {
            switch JobAdmission.decide(job, now: now, paused: isPaused(), availableMemory: availableMemory(), deferredSince: task.deferredSince) {
            case .start:
                break
            case .paused(let retryAt):
                reschedule(task.name, to: retryAt)
                return
            case .gaveUp(let message):
                finish(task, result: "deferred", ok: false, started: now, size: nil, message: message)
                return
            case .deferred(let since, let retryAt, let firstTime):
                if firstTime, let available = availableMemory() {
                    logger.info("job deferred: too little memory available", metadata: ["job": "\(job.name)", "available": "\(ByteSize.format(UInt64(available)))",
                                                                                      "needed": "\(ByteSize.format(job.minAvailableMemory ?? 0))"])
                }
                state.withLock { state in
                    if let index = state.tasks.firstIndex(where: { $0.name == task.name }) {
                        state.tasks[index].deferredSince = since
                        state.tasks[index].next = retryAt
                    }
                }
                return
            }
        }
        await execute(task, manual: false)
    }

    func manualTask(_ name: String) -> ScheduledTask? {
        guard name.hasPrefix("backup/"), let cron = try? CronSchedule("@daily") else { return nil }
        return ScheduledTask(name: name, kind: .backup(String(name.dropFirst("backup/".count))), schedule: WorkSchedule(name: name, cron: cron, jitter: .zero),
                    oncePerCluster: config.backups.oncePerCluster)
    }

    /// Each sample, as the sampler publishes it: its MemAvailable is what jobs are checked against.
    public func observe(_ snapshot: Snapshot) {
        guard let available = snapshot.views.memory?.availableBytes else { return }
        sampledAvailableMemory.withLock { $0 = available }
    }

    func availableMemory() -> Double? {
        if let sampled = sampledAvailableMemory.withLock({ $0 }) { return sampled }
        guard let text = try? FileSystemAccess.readFile(procRoot + "/meminfo") else { return nil }
        return SystemParsers.meminfo(text)["MemAvailable"]
    }

    func reschedule(_ name: String, to time: Double?) {
        state.withLock { state in
            if let index = state.tasks.firstIndex(where: { $0.name == name }) { state.tasks[index].next = time }
        }
    }

    // MARK: Running one task

    func execute(_ task: ScheduledTask, manual: Bool) async {
        let started = clock.now()
        let progress = StreamUpload.Progress()
        state.withLock { $0.current = Current(task: task.name, startedAt: started, progress: progress) }
        defer { state.withLock { $0.current = nil } }
        var lock: ClusterLock?
        if task.oncePerCluster {
            let dsn = plan?.postgresDSN ?? config.collectors.postgres.dsn
            do {
                lock = try await ClusterLock.acquire(dsn, name: task.name)
                if lock == nil {
                    logger.info("skipped: another agent of the cluster holds the lock for this task", metadata: ["task": "\(task.name)"])
                    finish(task, result: "skipped", ok: nil, started: started, size: nil, message: "skipped: another agent ran it")
                    if !manual, case .backup = task.kind { scheduleRecheck(task, started: started) }
                    return
                }
            } catch {
                finish(task, result: "failure", ok: false, started: started, size: nil, message: error.description)
                return
            }
        }
        logger.info("starting", metadata: ["task": "\(task.name)", "manual": "\(manual)"])
        await perform(task, started: started, progress: progress, manual: manual)
        // Awaited, not left to a task of its own (closing the connection would release it too).
        if let lock { await lock.release() }
    }

    private func perform(_ task: ScheduledTask, started: Double, progress: StreamUpload.Progress, manual: Bool) async {
        switch task.kind {
        case .backup(let target):
            await runBackup(task, target: target, started: started, progress: progress, manual: manual)
        case .drill:
            await runDrill(task, started: started)
        case .job(let job):
            do {
                let outcome = try await JobRunner().run(job)
                let lines = outcome.output.split(separator: "\n").suffix(40).joined(separator: "\n")
                if !lines.isEmpty { logger.info("job output (last lines)", metadata: ["job": "\(job.name)", "output": "\(lines)"]) }
                finish(task, result: outcome.timedOut ? "timeout" : (outcome.succeeded ? "success" : "failure"), ok: outcome.succeeded, started: started,
                       size: nil, message: "\(job.name) \(outcome.summary)")
            } catch {
                finish(task, result: "failure", ok: false, started: started, size: nil, message: error.description)
            }
        }
    }

    /// The soonest a skipped agent looks again.
    static let minimumRecheck = 30.0

    /// The agent holding the lock may die mid-backup; the slot's backup must still happen. So an
    /// agent that skipped looks again after about the holder's expected duration (twice the
    /// last one, at least 30 s), before the next slot: then it takes the lock, finds the slot's
    /// manifest and skips, or finds none and makes the backup (runBackup's same-slot check).
    func scheduleRecheck(_ task: ScheduledTask, started: Double) {
        let recheck = state.withLock { state -> Double? in
            let expected = state.records[task.name]?.lastDuration ?? 0
            let recheck = started + max(Self.minimumRecheck, 2 * expected)
            guard let index = state.tasks.firstIndex(where: { $0.name == task.name }), let next = state.tasks[index].next, recheck < next else { return nil }
            state.tasks[index].next = recheck
            return recheck
        }
        if let recheck {
            logger.info("will check that the lock holder made this slot's backup, and make it if not",
                        metadata: ["task": "\(task.name)", "at": "\(CalendarTime.utc(recheck).rfc3339)"])
        }
    }

    func runBackup(_ task: ScheduledTask, target: String, started: Double, progress: StreamUpload.Progress, manual: Bool) async {
        guard let plan else {
            finish(task, result: "failure", ok: false, started: started, size: nil, message: planError ?? "backups are not enabled")
            return
        }
        do {
            // Another agent may have made this slot's backup already (its run ended before this
            // one took the lock).
            if !manual, task.oncePerCluster, let slot = task.schedule.slot(containing: started),
               let latest = try? await plan.storage.manifests(target: target).manifests.last, latest.startedAt >= slot {
                logger.info("skipped: this slot's backup was already made by another agent", metadata: ["task": "\(task.name)", "host": "\(latest.host)"])
                finish(task, result: "skipped", ok: nil, started: started, size: nil, message: "skipped: \(latest.host) made it")
                return
            }
            do {
                let aborted = try await plan.storage.abortOrphans(onlyContaining: "\(target)/")
                if !aborted.isEmpty { logger.warning("aborted unfinished uploads before the backup", metadata: ["count": "\(aborted.count)"]) }
            } catch {
                logger.warning("could not look for unfinished uploads", metadata: ["error": "\(error)"])
            }
            let manifest: BackupManifest
            switch target {
            case "postgres": manifest = try await plan.postgresBackup().run(progress: progress)
            case "redis": manifest = try await plan.redisBackup().run(progress: progress)
            case "files": manifest = try await plan.filesBackup().run(progress: progress)
            default: throw BackupError("unknown backup target '\(target)' (postgres, redis or files)")
            }
            let seconds = manifest.finishedAt - manifest.startedAt
            logger.info("backup done", metadata: ["target": "\(target)", "key": "\(manifest.dataKey)", "bytes": "\(manifest.bytes)",
                                                  "parts": "\(manifest.parts)", "part_size": "\(manifest.partSize)", "seconds": "\(Int(seconds))",
                                                  "read_seconds": "\(progress.readSeconds.map { Int($0.rounded()) } ?? 0)", "sha256": "\(manifest.sha256)"])
            finish(task, result: "success", ok: true, started: started, size: Double(manifest.bytes),
                   message: "\(manifest.dataKey): \(ByteSize.format(UInt64(manifest.bytes))) in \(Int(seconds)) s")
            do {
                let decision = try await plan.prune(target: target, dryRun: false)
                for deleted in decision.delete {
                    logger.info("retention: deleted a backup", metadata: ["key": "\(deleted.dataKey)", "finished": "\(CalendarTime.utc(deleted.finishedAt).rfc3339)"])
                }
            } catch {
                logger.warning("retention failed; backups were kept", metadata: ["error": "\(error)"])
            }
        } catch {
            finish(task, result: "failure", ok: false, started: started, size: nil, message: "\(error)")
        }
    }

    func runDrill(_ task: ScheduledTask, started: Double) async {
        guard let plan else { return finish(task, result: "failure", ok: false, started: started, size: nil, message: planError ?? "backups are not enabled") }
        do {
            let restorer = try plan.restorer()
            let manifest = try await plan.storage.find("latest", target: "postgres")
            let report = try await restorer.drill(manifest, scratch: plan.settings.drill.scratchDatabase)
            let compared = report.compared.map { "\($0.table) \($0.restored)" }.joined(separator: ", ")
            finish(task, result: "success", ok: true, started: started, size: nil,
                   message: "restored \(manifest.dataKey) in \(Int(report.seconds)) s; row counts equal: \(compared.isEmpty ? "no tables counted" : compared)")
        } catch {
            finish(task, result: "failure", ok: false, started: started, size: nil, message: "\(error)")
        }
    }

    /// Records a result: metrics, log, state file, the next slot, and a notice on failure.
    func finish(_ task: ScheduledTask, result: String, ok: Bool?, started: Double, size: Double?, message: String) {
        let now = clock.now()
        state.withLock { state in
            var record = state.records[task.name] ?? Record()
            record.results[result, default: 0] += 1
            if result != "skipped" {
                record.lastRun = started
                record.lastOK = ok
                record.lastDuration = now - started
                record.lastMessage = message
                if ok == true {
                    record.lastSuccess = now
                    if let size { record.lastSize = size }
                }
            }
            state.records[task.name] = record
            state.finished[task.name] = Finished(result: result, message: message, at: now)
            if let index = state.tasks.firstIndex(where: { $0.name == task.name }) {
                state.tasks[index].deferredSince = nil
                state.tasks[index].next = task.schedule.nextRun(lastRun: started, now: now, atStart: false)
            }
        }
        saveRecords()
        let metadata: Logger.Metadata = ["task": "\(task.name)", "result": "\(result)", "message": "\(message)"]
        if ok == false {
            logger.error("scheduled work failed", metadata: metadata)
            notify("\(task.name) failed", message)
        } else {
            logger.info("scheduled work finished", metadata: metadata)
        }
    }

    // MARK: State file

    static func loadRecords(_ store: StateStore?) -> [String: Record] {
        guard case .object(let tasks)? = store?.section("work")?["tasks"] else { return [:] }
        var records: [String: Record] = [:]
        for (name, value) in tasks {
            var record = Record()
            // Checked like input: times within 1970–5000, sizes and counts whole and finite.
            record.lastRun = value["last_run"]?.timestamp
            record.lastSuccess = value["last_success"]?.timestamp
            if case .bool(let ok)? = value["last_ok"] { record.lastOK = ok }
            record.lastDuration = value["last_duration"]?.finite.map { Swift.max(0, $0) }
            record.lastSize = value["last_size"]?.integer.map { Double(Swift.max(0, $0)) }
            record.lastMessage = value["last_message"]?.string.map { String($0.prefix(4096)) }
            if case .object(let results)? = value["results"] { record.results = results.compactMapValues { $0.integer.map { Double(Swift.max(0, $0)) } } }
            records[name] = record
        }
        return records
    }

    func saveRecords() {
        guard let stateStore else { return }
        let records = state.withLock { $0.records }
        var tasks: [String: JSONValue] = [:]
        for (name, record) in records {
            var object: [String: JSONValue] = ["results": .object(record.results.mapValues { .number($0) })]
            if let value = record.lastRun { object["last_run"] = .number(value) }
            if let value = record.lastSuccess { object["last_success"] = .number(value) }
            if let value = record.lastOK { object["last_ok"] = .bool(value) }
            if let value = record.lastDuration { object["last_duration"] = .number(value) }
            if let value = record.lastSize { object["last_size"] = .number(value) }
            if let value = record.lastMessage { object["last_message"] = .string(String(value.prefix(500))) }
            tasks[name] = .object(object)
        }
        _ = stateStore.update("work", .object(["tasks": .object(tasks)]))
    }

    // MARK: Control socket

    /// `backup run`: queued for the scheduler's loop (one piece of work at a time).
    public func request(target: String) -> JSONValue {
        guard config.backups.enabled else { return ControlSocketService.error("backups are not enabled in this agent's configuration (backups.enabled)") }
        if let planError { return ControlSocketService.error(planError) }
        guard ["postgres", "redis", "files"].contains(target) else { return ControlSocketService.error("unknown target '\(target)' (postgres, redis or files)") }
        let name = "backup/\(target)"
        state.withLock { state in
            state.finished[name] = nil
            if !state.requests.contains(name) { state.requests.append(name) }
        }
        return .object(["ok": .bool(true), "queued": .string(name)])
    }

    /// What runs now (with progress) and how each task last ended.
    public func statusJSON(now: Double) -> JSONValue {
        state.withLock { state in
            var object: [String: JSONValue] = ["finished": .object(state.finished.mapValues(\.json)), "queued": .array(state.requests.map { .string($0) })]
            if let current = state.current {
                object["current"] = .object(["task": .string(current.task), "started_at": .number(current.startedAt),
                                             "elapsed": .number(now - current.startedAt),
                                             "bytes": .number(Double(current.progress?.bytes ?? 0)), "parts": .number(Double(current.progress?.parts ?? 0))])
            }
            object["tasks"] = .array(state.tasks.map { task in
                let record = state.records[task.name] ?? Record()
                var entry: [String: JSONValue] = ["name": .string(task.name)]
                if let next = task.next { entry["next"] = .number(next) }
                if let value = record.lastRun { entry["last_run"] = .number(value) }
                if let value = record.lastOK { entry["last_ok"] = .bool(value) }
                if let value = record.lastMessage { entry["last_message"] = .string(value) }
                return .object(entry)
            })
            return .object(object)
        }
    }

    // MARK: Metrics

    /// Each backup target's last runs, in schedule order, for the status page.
    public func backupSummaries() -> [StatusReport.Backup] {
        let (tasks, records) = state.withLock { ($0.tasks, $0.records) }
        return tasks.compactMap { task in
            guard case .backup(let target) = task.kind else { return nil }
            let record = records[task.name] ?? Record()
            return StatusReport.Backup(target: target, lastSuccess: record.lastSuccess, sizeBytes: record.lastSize, lastRunSuccessful: record.lastOK)
        }
    }

    /// Each job's last runs, in schedule order, for the status page.
    public func jobSummaries() -> [StatusReport.Job] {
        let (tasks, records) = state.withLock { ($0.tasks, $0.records) }
        return tasks.compactMap { task in
            guard case .job(let job) = task.kind else { return nil }
            let record = records[task.name] ?? Record()
            return StatusReport.Job(name: job.name, lastSuccess: record.lastSuccess, lastRunSuccessful: record.lastOK, durationSeconds: record.lastDuration)
        }
    }

    public func metrics(now: Double) -> [MetricFamily] {
        let (tasks, records) = state.withLock { ($0.tasks, $0.records) }
        var backupSuccess: [Sample] = [], backupSize: [Sample] = [], backupDuration: [Sample] = [], backupOK: [Sample] = [], backupTotal: [Sample] = []
        var backupInterval: [Sample] = []
        var drillSuccess: [Sample] = [], drillOK: [Sample] = []
        var jobSuccess: [Sample] = [], jobDuration: [Sample] = [], jobOK: [Sample] = [], jobTotal: [Sample] = []
        for task in tasks {
            let record = records[task.name] ?? Record()
            switch task.kind {
            case .backup(let target):
                let labels = [Label("target", target)]
                backupSuccess.append(Sample(labels: labels, value: record.lastSuccess ?? 0))
                if let size = record.lastSize { backupSize.append(Sample(labels: labels, value: size)) }
                if let duration = record.lastDuration { backupDuration.append(Sample(labels: labels, value: duration)) }
                if let ok = record.lastOK { backupOK.append(Sample(labels: labels, value: ok ? 1 : 0)) }
                if let interval = task.schedule.interval(after: now) { backupInterval.append(Sample(labels: labels, value: interval)) }
                for result in ["success", "failure", "skipped"] {
                    backupTotal.append(Sample(labels: labels + [Label("result", result)], value: record.results[result] ?? 0))
                }
            case .drill:
                drillSuccess.append(Sample(labels: [], value: record.lastSuccess ?? 0))
                if let ok = record.lastOK { drillOK.append(Sample(labels: [], value: ok ? 1 : 0)) }
            case .job(let job):
                let labels = [Label("job", job.name)]
                jobSuccess.append(Sample(labels: labels, value: record.lastSuccess ?? 0))
                if let duration = record.lastDuration { jobDuration.append(Sample(labels: labels, value: duration)) }
                if let ok = record.lastOK { jobOK.append(Sample(labels: labels, value: ok ? 1 : 0)) }
                for result in ["success", "failure", "timeout", "deferred", "skipped"] {
                    jobTotal.append(Sample(labels: labels + [Label("result", result)], value: record.results[result] ?? 0))
                }
            }
        }
        var families: [MetricFamily] = []
        func add(_ name: String, _ help: String, _ type: MetricType, _ samples: [Sample]) {
            if !samples.isEmpty { families.append(MetricFamily(name: name, help: help, type: type, samples: samples)) }
        }
        add("mastiff_backup_last_success_timestamp_seconds", "Time the last good backup of the target finished (0: none yet), seconds since the epoch.", .gauge, backupSuccess)
        add("mastiff_backup_last_size_bytes", "Size of the last good backup as stored.", .gauge, backupSize)
        add("mastiff_backup_last_duration_seconds", "How long the last backup run took.", .gauge, backupDuration)
        add("mastiff_backup_last_run_successful", "Whether the last backup run of the target succeeded (1) or failed (0).", .gauge, backupOK)
        add("mastiff_backup_schedule_interval_seconds", "Seconds between two scheduled backups of the target.", .gauge, backupInterval)
        add("mastiff_backups_total", "Backup runs by result (success, failure, skipped: another agent ran it).", .counter, backupTotal)
        add("mastiff_backup_drill_last_success_timestamp_seconds", "Time the last good restore drill finished (0: none yet).", .gauge, drillSuccess)
        add("mastiff_backup_drill_last_run_successful", "Whether the last restore drill succeeded (1) or failed (0).", .gauge, drillOK)
        add("mastiff_job_last_success_timestamp_seconds", "Time the job last succeeded (0: not yet), seconds since the epoch.", .gauge, jobSuccess)
        add("mastiff_job_last_duration_seconds", "How long the job's last run took.", .gauge, jobDuration)
        add("mastiff_job_last_run_successful", "Whether the job's last run succeeded (1) or not (0: failed, timed out or deferred too long).", .gauge, jobOK)
        add("mastiff_job_runs_total", "Job runs by result (success, failure, timeout, deferred, skipped).", .counter, jobTotal)
        return families
    }
}
