import Synchronization

/// Whether mastiff is in maintenance — a maintenance window or `mastiff maintenance on` — as one
/// shared value: the notifier, which owns the windows and the admin's command (and saves them
/// with its queue), publishes it at every round and on every change; the restart service and
/// the scheduled work read it, and hold their actions while it is on.
public final class MaintenanceState: Sendable {
    private let active = Atomic<Bool>(false)

    public init() {}

    public var isActive: Bool { active.load(ordering: .acquiring) }

    func publish(_ isActive: Bool) { active.store(isActive, ordering: .releasing) }
}
