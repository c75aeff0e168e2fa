import MastiffCore

/// A decision made from what mastiff sees: alert rules, restart budgets, schedules. Policies
/// are value types that read snapshots (and the history) and return the actions to take; they
/// never do I/O and never read a clock — time is the `now` they are given. This target depends
/// on MastiffCore only, so a policy cannot reach a client library by accident.
///
/// Tested by feeding snapshots and advancing time; the actions go to executors
/// (MastiffExecutors), which report outcomes back through `record(_:)`.
public protocol Policy: Sendable {
    associatedtype Action: Sendable
    associatedtype Outcome: Sendable

    /// The actions due after this sample, at wall time `now` (seconds since the Unix epoch).
    mutating func observe(_ snapshot: Snapshot, now: Double) -> [Action]

    /// What became of an action (done, failed, still running), for budgets and back-off.
    mutating func record(_ outcome: Outcome, now: Double)
}
