import MastiffCore
import ServiceLifecycle

/// Writes the state file's staged sections (alert states, the notification queue) from one place,
/// at most once per `interval`, off the paths that change them — a delivery or an evaluation no
/// longer waits for two fsyncs — and once more when mastiff stops, after the services that stage
/// (it is the first service of the group, so the last to stop).
public struct StateFlushService: Service {
    let store: StateStore
    let interval: Duration

    public init(store: StateStore, interval: Duration = .seconds(1)) {
        self.store = store
        self.interval = interval
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    try await Task.sleep(for: interval)
                    store.flush()
                }
            }
        } catch is CancellationError {}
        // The last word, on a graceful shutdown and on cancellation alike.
        store.flush()
    }
}
