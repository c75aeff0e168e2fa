/// One process as seen in the last scan. Kept for policies (restart on memory, fd exhaustion)
/// and not exported per process, to keep /metrics' cardinality bounded.
public struct ProcessSample: Sendable, Equatable {
    public init(pid: Int, group: String, comm: String, residentBytes: UInt64, proportionalBytes: UInt64?, swapBytes: UInt64,
                openFDs: Int?, openFDLimit: UInt64?, cpuSeconds: Double, startTime: Double, threads: Int, majorFaults: UInt64, ownerUID: UInt32? = nil) {
        self.pid = pid
        self.group = group
        self.comm = comm
        self.residentBytes = residentBytes
        self.proportionalBytes = proportionalBytes
        self.swapBytes = swapBytes
        self.openFDs = openFDs
        self.openFDLimit = openFDLimit
        self.cpuSeconds = cpuSeconds
        self.startTime = startTime
        self.threads = threads
        self.majorFaults = majorFaults
        self.ownerUID = ownerUID
    }

    public var pid: Int
    public var group: String
    public var comm: String
    public var residentBytes: UInt64
    /// nil when PSS is off or smaps_rollup was unreadable.
    public var proportionalBytes: UInt64?
    public var swapBytes: UInt64
    public var openFDs: Int?
    public var openFDLimit: UInt64?
    public var cpuSeconds: Double
    /// Seconds since the Unix epoch; with the pid, it identifies the process across samples.
    public var startTime: Double
    public var threads: Int
    public var majorFaults: UInt64
    /// The account it runs as, when its real and effective uid agree (nil while they differ, or
    /// when /proc/PID/status was unreadable): a restart target acts only on its own account's
    /// processes.
    public var ownerUID: UInt32?
}
