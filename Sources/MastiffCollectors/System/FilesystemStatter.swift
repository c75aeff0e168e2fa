#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import MastiffCore

/// Sizes of one mounted filesystem, in bytes.
public struct FilesystemUsage: Sendable, Equatable {
    public var size: Double
    public var free: Double
    /// Free to unprivileged users (excludes blocks reserved for root), as `df` shows.
    public var available: Double

    public init(size: Double, free: Double, available: Double) {
        self.size = size
        self.free = free
        self.available = available
    }
}

/// statvfs(3) behind a protocol, so the system collector can run on a fixture tree.
public protocol FilesystemStatter: Sendable {
    func usage(of path: String) throws(FileAccessError) -> FilesystemUsage
}

public struct StatvfsFilesystemStatter: FilesystemStatter {
    public init() {}
    public func usage(of path: String) throws(FileAccessError) -> FilesystemUsage {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { throw FileAccessError(path: path, errno: errno) }
        let unit = Double(stats.f_frsize)
        return FilesystemUsage(size: Double(stats.f_blocks) * unit, free: Double(stats.f_bfree) * unit,
                               available: Double(stats.f_bavail) * unit)
    }
}
