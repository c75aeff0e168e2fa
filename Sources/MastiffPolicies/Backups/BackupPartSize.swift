/// The size of every part but the last of a backup's multipart upload, chosen before its first
/// byte is read: S3 allows 10,000 parts of 5 MiB to 5 GiB, every part but the last must be 5 MiB
/// or more, and Cloudflare R2 wants them all equal, so the size cannot change mid-stream. Memory
/// during a backup is a few parts, so the smallest size that surely fits is the one to take:
/// small databases get 5 MiB parts, and only a dump that could outgrow 10,000 of them gets more.
public enum BackupPartSize {
    public static let minimum = 5 << 20
    public static let maximum = 5 << 30
    public static let maximumParts = 10_000
    /// Parts are sized for twice the estimate. pg_dump's custom format is compressed and leaves
    /// out indexes and dead rows, so a dump is rarely half of `pg_database_size`; an uncompressed
    /// dump (`compression: 0`) of a database without indexes is about its size, still inside.
    public static let headroom = 2
    /// Without an estimate (a files backup): 16 MiB, room for 156 GiB (168 GB).
    public static let withoutEstimate = 16 << 20

    /// `configured`: `backups.storage.part_size` (nil: automatic). A configured size too small
    /// for the estimate is raised to what fits, so the setting can never make a backup fail
    /// half-way; `estimatedBytes` nil keeps it as it is.
    public static func choose(estimatedBytes: Int?, configured: Int?) -> Int {
        let needed = estimatedBytes.map { bytes in
            // Whole MiB, rounded up: sizes in logs and manifests stay readable.
            let exact = max(bytes, 0).multipliedReportingOverflow(by: headroom).overflow ? Int.max / 2 : max(bytes, 0) * headroom
            let perPart = exact / maximumParts + 1
            return ((perPart + (1 << 20) - 1) >> 20) << 20
        }
        let chosen = max(configured ?? (needed == nil ? withoutEstimate : minimum), needed ?? 0)
        return min(max(chosen, minimum), maximum)
    }
}
