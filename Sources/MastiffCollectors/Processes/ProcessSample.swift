/// One process as seen in the last scan. Kept for policies (restart on memory, fd exhaustion)
/// and not exported per process, to keep /metrics' cardinality bounded.
public struct ProcessSample: Sendable, Equatable {
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
    public var startTime: Double
    public var threads: Int
    public var majorFaults: UInt64
}
