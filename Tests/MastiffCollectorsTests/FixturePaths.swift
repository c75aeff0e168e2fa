#if canImport(Glibc)
import Glibc
#endif
import MastiffCollectors
import MastiffCore

/// Locations of the checked-in fixtures, found from this file's path so no resource bundle
/// (and no Foundation) is needed.
enum FixturePaths {
    static let directory: String = {
        let file = #filePath
        return String(file[..<file.lastIndex(of: "/")!]) + "/Fixtures"
    }()
    static let procRoot = directory + "/proc"
    static let goldenExposition = directory + "/golden.prom"

    static func read(_ path: String) -> String {
        (try? FileSystemAccess.readFile(path)) ?? ""
    }

    static func write(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}

/// Fixed filesystem sizes for fixture runs; `/missing` behaves like an unmounted path.
struct FixtureStatter: FilesystemStatter {
    func usage(of path: String) throws(FileAccessError) -> FilesystemUsage {
        guard path != "/missing" else { throw FileAccessError(path: path, errno: ENOENT) }
        return FilesystemUsage(size: 107_374_182_400, free: 53_687_091_200, available: 48_318_382_080)
    }
}
