import MastiffCore
import Synchronization

/// The configuration in force: the one loaded at start until a reload replaces it. Readers that
/// follow a reload (the alert interval, /healthz's allowance, the status page's instance URL)
/// read it here rather than keep a copy.
public final class RunningConfiguration: Sendable {
    private let config: Mutex<MastiffConfig>

    public init(_ config: MastiffConfig) { self.config = Mutex(config) }

    public var current: MastiffConfig { config.withLock { $0 } }

    func replace(with config: MastiffConfig) { self.config.withLock { $0 = config } }
}
