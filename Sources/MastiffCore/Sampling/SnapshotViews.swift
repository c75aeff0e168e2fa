/// Typed facts that collectors fill while they read, for policies that must not parse
/// exposition text: which processes run and how big they are, what Sidekiq's processes say
/// about themselves, and how much memory the host has left. A view is nil when its collector
/// is off or failed in that sample: "no data" is never an empty list.
public struct SnapshotViews: Sendable, Equatable {
    public var processes: [ProcessSample]?
    public var sidekiqProcesses: [SidekiqProcessSample]?
    public var memory: SystemMemorySample?
    /// The remote hosts Mastodon failed to deliver to on the most days (the status page's top
    /// ten: host names are not metric labels).
    public var federationFailingHosts: [FailingHost]?

    public init(processes: [ProcessSample]? = nil, sidekiqProcesses: [SidekiqProcessSample]? = nil, memory: SystemMemorySample? = nil) {
        self.processes = processes
        self.sidekiqProcesses = sidekiqProcesses
        self.memory = memory
    }

    /// Views from several collectors in one sample; each collector fills its own.
    public mutating func merge(_ other: SnapshotViews) {
        if let processes = other.processes { self.processes = processes }
        if let sidekiq = other.sidekiqProcesses { sidekiqProcesses = sidekiq }
        if let memory = other.memory { self.memory = memory }
        if let hosts = other.federationFailingHosts { federationFailingHosts = hosts }
    }
}

/// A remote host and the number of distinct days deliveries to it failed.
public struct FailingHost: Sendable, Equatable {
    public var host: String
    public var days: Int
    public init(host: String, days: Int) {
        self.host = host
        self.days = days
    }
}

/// One Sidekiq process as it describes itself in Redis (`processes` set and its hash).
public struct SidekiqProcessSample: Sendable, Equatable {
    /// `hostname:pid:nonce`, the key of its hash; what a quiet signal is addressed to.
    public var identity: String
    public var hostname: String
    public var pid: Int?
    public var queues: [String]
    public var busy: Int
    public var concurrency: Int
    public var quiet: Bool
    /// Seconds since the Unix epoch of its last heartbeat.
    public var lastBeat: Double

    public init(identity: String, hostname: String, pid: Int?, queues: [String], busy: Int, concurrency: Int, quiet: Bool, lastBeat: Double) {
        self.identity = identity
        self.hostname = hostname
        self.pid = pid
        self.queues = queues
        self.busy = busy
        self.concurrency = concurrency
        self.quiet = quiet
        self.lastBeat = lastBeat
    }
}

/// The host's memory, swap and memory pressure (PSI), in bytes and percent.
public struct SystemMemorySample: Sendable, Equatable {
    public var totalBytes: Double
    public var availableBytes: Double
    public var swapTotalBytes: Double
    public var swapFreeBytes: Double
    /// /proc/pressure/memory "some" and "full" avg10, in percent; nil where the kernel has no PSI.
    public var pressureSomeAvg10: Double?
    public var pressureFullAvg10: Double?

    public init(totalBytes: Double, availableBytes: Double, swapTotalBytes: Double, swapFreeBytes: Double,
                pressureSomeAvg10: Double? = nil, pressureFullAvg10: Double? = nil) {
        self.totalBytes = totalBytes
        self.availableBytes = availableBytes
        self.swapTotalBytes = swapTotalBytes
        self.swapFreeBytes = swapFreeBytes
        self.pressureSomeAvg10 = pressureSomeAvg10
        self.pressureFullAvg10 = pressureFullAvg10
    }
}
