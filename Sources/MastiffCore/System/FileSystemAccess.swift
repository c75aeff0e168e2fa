#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors from reading files under /proc, /sys or a configuration path. The description carries
/// the path and errno name only, never file contents.
public struct FileAccessError: Error, CustomStringConvertible, Equatable {
    public let path: String
    public let errno: Int32

    public init(path: String, errno: Int32) {
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(path): \(String(cString: strerror(errno)))"
    }

    /// The file or process went away between listing and reading: expected under /proc.
    public var isGone: Bool { errno == ENOENT || errno == ESRCH }
    public var isPermissionDenied: Bool { errno == EACCES || errno == EPERM }
}

/// Small, allocation-conscious helpers over POSIX calls. Readers of /proc take their root as a
/// parameter and use these, so tests point them at a fixture tree.
public enum FileSystemAccess {
    /// Reads a whole file (procfs files report size 0, so this reads until EOF).
    public static func readFile(_ path: String, maxBytes: Int = 4 << 20) throws(FileAccessError) -> String {
        let bytes = try readBytes(path, maxBytes: maxBytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    public static func readBytes(_ path: String, maxBytes: Int = 4 << 20) throws(FileAccessError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileAccessError(path: path, errno: errno) }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while result.count < maxBytes {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileAccessError(path: path, errno: errno)
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }

    /// Why a configuration-like file could not be read. Descriptions name the path and the
    /// reason, never the contents.
    public enum RegularFileError: Error, CustomStringConvertible, Equatable {
        case unreadable(FileAccessError)
        /// A FIFO, device, socket or directory: reading one could block forever or mean nothing.
        case notRegular(path: String, kind: String)
        case tooLarge(path: String, limit: Int)

        public var description: String {
            switch self {
            case .unreadable(let error): "cannot read \(error.path): \(String(cString: strerror(error.errno)))"
            case .notRegular(let path, let kind): "\(path) is a \(kind), not a regular file"
            case .tooLarge(let path, let limit): "\(path) is larger than the limit of \(ByteSize.format(UInt64(limit)))"
            }
        }
    }

    /// Reads a whole regular file of at most `limit` bytes. Anything else is refused rather than
    /// read in part: a configuration cut at the limit could lose a key silently, and a FIFO
    /// would block its reader forever. The descriptor is opened non-blocking so that opening a
    /// FIFO does not wait for a writer.
    public static func readRegularFile(_ path: String, limit: Int) throws(RegularFileError) -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw .unreadable(FileAccessError(path: path, errno: errno)) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .unreadable(FileAccessError(path: path, errno: errno)) }
        let type = status.st_mode & S_IFMT
        guard type == S_IFREG else {
            let kind = switch type {
            case S_IFDIR: "directory"
            case S_IFIFO: "FIFO"
            case S_IFSOCK: "socket"
            case S_IFCHR, S_IFBLK: "device"
            default: "special file"
            }
            throw .notRegular(path: path, kind: kind)
        }
        guard Int(status.st_size) <= limit else { throw .tooLarge(path: path, limit: limit) }
        var result: [UInt8] = []
        result.reserveCapacity(Int(status.st_size))
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw .unreadable(FileAccessError(path: path, errno: errno))
            }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
            // The file grew while being read.
            guard result.count <= limit else { throw .tooLarge(path: path, limit: limit) }
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Names in a directory, without `.` and `..`.
    public static func listDirectory(_ path: String) throws(FileAccessError) -> [String] {
        guard let dir = opendir(path) else { throw FileAccessError(path: path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Number of entries in a directory (for /proc/PID/fd), without building names.
    public static func countDirectoryEntries(_ path: String) throws(FileAccessError) -> Int {
        guard let dir = opendir(path) else { throw FileAccessError(path: path, errno: errno) }
        defer { closedir(dir) }
        var count = 0
        while let entry = readdir(dir) {
            let isDot = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: UInt8.self, capacity: 3) { p in
                    p[0] == 0x2E && (p[1] == 0 || (p[1] == 0x2E && p[2] == 0))
                }
            }
            if !isDot { count += 1 }
        }
        return count
    }

    public static func readLink(_ path: String) throws(FileAccessError) -> String {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(path, &buffer, 4096)
        guard n >= 0 else { throw FileAccessError(path: path, errno: errno) }
        return buffer.withUnsafeBufferPointer { String(decoding: UnsafeRawBufferPointer($0).prefix(n), as: UTF8.self) }
    }

    public static func fileExists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }

    public static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }
}

/// Wall-clock time, injected where timestamps are exposed so tests can fix it.
public protocol WallClock: Sendable {
    /// Seconds since the Unix epoch.
    func now() -> Double
}

public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}
