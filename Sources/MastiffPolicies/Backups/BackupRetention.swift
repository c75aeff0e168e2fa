import MastiffCore

/// Grandfather-father-son retention over manifests, pure. Walking backups newest first:
/// the newest `keepLast` are kept; then each of the newest `daily` calendar days, `weekly` ISO
/// weeks (Monday to Sunday) and `monthly` months that hold a backup keeps its newest backup.
/// Days, weeks and months are counted in the given time zone (local time or UTC). The newest
/// backup is always kept, whatever the settings. Only backups with a manifest are ever seen here.
public struct BackupRetention: Sendable, Equatable {
    public var keepLast: Int
    public var daily: Int
    public var weekly: Int
    public var monthly: Int
    public var localTime: Bool

    public init(keepLast: Int = 3, daily: Int = 7, weekly: Int = 4, monthly: Int = 6, localTime: Bool = true) {
        self.keepLast = keepLast
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.localTime = localTime
    }

    public struct Decision: Sendable, Equatable {
        /// Kept, with why (`last`, `daily 2026-12-03`, …), newest first.
        public var keep: [(manifest: BackupManifest, reasons: [String])]
        /// To delete (data first, then its manifest), newest first.
        public var delete: [BackupManifest]

        public static func == (a: Decision, b: Decision) -> Bool {
            a.keep.map(\.manifest) == b.keep.map(\.manifest) && a.keep.map(\.reasons) == b.keep.map(\.reasons) && a.delete == b.delete
        }
    }

    public func decide(_ manifests: [BackupManifest]) -> Decision {
        let ordered = manifests.sorted { $0.finishedAt != $1.finishedAt ? $0.finishedAt > $1.finishedAt : $0.dataKey > $1.dataKey }
        var reasons: [[String]] = Array(repeating: [], count: ordered.count)
        for index in ordered.indices.prefix(max(keepLast, 1)) { reasons[index].append(index < keepLast ? "last" : "newest") }
        func buckets(_ count: Int, _ name: String, _ bucket: (CalendarTime, Int) -> String) {
            var seen = Set<String>()
            for (index, manifest) in ordered.enumerated() {
                guard seen.count < count else { break }
                let time = localTime ? CalendarTime.local(manifest.finishedAt) : CalendarTime.utc(manifest.finishedAt)
                let key = bucket(time, time.daysSinceEpoch)
                if seen.insert(key).inserted { reasons[index].append("\(name) \(key)") }
            }
        }
        buckets(daily, "daily") { time, _ in time.date }
        // A week is named by its Monday.
        buckets(weekly, "weekly") { _, day in
            let monday = day - ((day + 3) % 7 + 7) % 7 // 1970-01-01 was a Thursday (index 3 from Monday)
            return "week of " + Self.date(ofDay: monday)
        }
        buckets(monthly, "monthly") { time, _ in String(time.date.prefix(7)) }
        var decision = Decision(keep: [], delete: [])
        for (index, manifest) in ordered.enumerated() {
            if reasons[index].isEmpty { decision.delete.append(manifest) } else { decision.keep.append((manifest, reasons[index])) }
        }
        return decision
    }

    static func date(ofDay day: Int) -> String { CalendarTime.utc(Double(day) * 86400).date }
}
