/// Where a collector writes its samples during one scrape.
///
/// A sink belongs to one collector run, so it needs no locking; the runner merges sinks after
/// every collector has finished or timed out. Collectors also report recoverable problems here
/// (a process that exited mid-scan, a malformed line) with `recordError(reason:)`; the runner
/// turns them into `mastiff_collector_errors_total{collector,reason}`.
public final class MetricSink {
    private(set) public var families: [MetricFamily] = []
    private var indexByName: [String: Int] = [:]
    private(set) public var errorReasons: [String: Int] = [:]
    /// Set by `fail(reason:detail:)`: the samples emitted so far (`<source>_up 0`) are kept, and
    /// the run counts as failed.
    private(set) public var failure: (reason: String, detail: String)?
    /// Typed facts for the policies, beside the samples (see `SnapshotViews`).
    public var views = SnapshotViews()

    public init() {}

    public func gauge(_ name: String, help: String, _ value: Double, labels: [Label] = []) {
        add(name, help: help, type: .gauge, sample: Sample(labels: labels, value: value))
    }

    public func counter(_ name: String, help: String, _ value: Double, labels: [Label] = []) {
        add(name, help: help, type: .counter, sample: Sample(labels: labels, value: value))
    }

    /// Declares a family without samples, so that HELP and TYPE are present even when, for
    /// instance, no process matched a group.
    public func declare(_ name: String, help: String, type: MetricType) {
        _ = familyIndex(name, help: help, type: type)
    }

    public func add(_ name: String, help: String, type: MetricType, sample: Sample) {
        guard let index = familyIndex(name, help: help, type: type) else {
            recordError(reason: "metric_conflict")
            return
        }
        families[index].samples.append(sample)
    }

    /// Marks this run as failed while keeping what was emitted, for a source that is down:
    /// `<source>_up 0` is exposed and `mastiff_collector_success` is 0.
    public func fail(reason: String, detail: String) {
        failure = (reason, detail)
    }

    public func recordError(reason: String, count: Int = 1) {
        errorReasons[reason, default: 0] += count
    }

    /// Adds every error count of `reasons`.
    public func recordErrors(_ reasons: [String: Int]) {
        for (reason, count) in reasons { recordError(reason: reason, count: count) }
    }

    /// Adds a whole family (declared even when it has no samples), as if emitted here.
    public func add(_ family: MetricFamily) {
        declare(family.name, help: family.help, type: family.type)
        for sample in family.samples { add(family.name, help: family.help, type: family.type, sample: sample) }
    }

    private func familyIndex(_ name: String, help: String, type: MetricType) -> Int? {
        if let index = indexByName[name] {
            return families[index].type == type ? index : nil
        }
        precondition(MetricName.isValidMetricName(name), "invalid metric name \(name)")
        families.append(MetricFamily(name: name, help: help, type: type))
        indexByName[name] = families.count - 1
        return families.count - 1
    }
}
