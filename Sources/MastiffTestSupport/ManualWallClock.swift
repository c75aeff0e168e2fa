import MastiffCore
import Synchronization

/// Wall time that moves only when a test advances it.
public final class ManualWallClock: WallClock, Sendable {
    private let time: Mutex<Double>
    public init(_ start: Double = 1_800_000_000) { time = Mutex(start) }
    public func now() -> Double { time.withLock { $0 } }
    public func advance(by seconds: Double) { time.withLock { $0 += seconds } }
}
