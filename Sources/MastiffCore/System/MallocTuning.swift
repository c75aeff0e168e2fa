/// glibc's malloc tuning. `mallopt` lives in <malloc.h>, which the Glibc module does not import,
/// so it is declared here by its C symbol name.
public enum MallocTuning {
    @_silgen_name("mallopt")
    private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

    private static let arenaMaxParameter: Int32 = -8   // M_ARENA_MAX
    private static let trimThresholdParameter: Int32 = -1   // M_TRIM_THRESHOLD
    private static let mmapThresholdParameter: Int32 = -3   // M_MMAP_THRESHOLD

    /// Use one malloc arena for all threads. glibc's default is up to 8 per core, one per thread
    /// that allocates; each stayed ~150 KiB resident in mastiff. Call before starting threads.
    public static func useSingleArena() {
        _ = mallopt(arenaMaxParameter, 1)
    }

    /// Give large blocks back to the system when freed. A scrape with thousands of statsd series
    /// builds a multi-megabyte exposition; glibc's default raises its mmap threshold after the
    /// first such block is freed, so later ones came from the heap and stayed resident. A fixed
    /// threshold keeps blocks over 128 KiB in their own mappings, and the heap is trimmed when
    /// 256 KiB at its top are free.
    public static func returnLargeBlocks() {
        _ = mallopt(mmapThresholdParameter, 128 * 1024)
        _ = mallopt(trimThresholdParameter, 256 * 1024)
    }
}
