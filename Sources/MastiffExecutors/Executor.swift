import MastiffPolicies

/// Performs one kind of action a policy decided (send a notification, restart a unit, run a
/// backup) and says how it went; it decides nothing. Executors sit above the client libraries
/// and are replaced in tests by recording executors; the real ones are tested against real
/// peers (Alertmanager, supervisord, moto's S3).
public protocol Executor: Sendable {
    associatedtype Action: Sendable
    associatedtype Outcome: Sendable

    func perform(_ action: Action) async -> Outcome
}
