/// glibc's malloc tuning. `mallopt` lives in <malloc.h>, which the Glibc module does not import,
/// so it is declared here by its C symbol name.
public enum MallocTuning {
    @_silgen_name("mallopt")
    private static func mallopt(_ parameter: Int32, _ value: Int32) -> Int32

    private static let arenaMaxParameter: Int32 = -8   // M_ARENA_MAX

    /// Use one malloc arena for all threads. glibc's default is up to 8 per core, one per thread
    /// that allocates; each stayed ~150 KiB resident in mastiff. Call before starting threads.
    public static func useSingleArena() {
        _ = mallopt(arenaMaxParameter, 1)
    }
}
