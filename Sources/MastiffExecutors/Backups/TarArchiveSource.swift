import Glibc
import MastiffClients
import MastiffCore

/// A POSIX (pax) tar archive of files and directories, produced as it is read: one 512-byte
/// header (and a pax header for what ustar cannot hold) per entry, then the file's bytes and its
/// padding, then two zero blocks. Regular files, directories (recursively, sorted) and symbolic
/// links (as links); anything else (sockets, devices) is skipped. Paths are stored without their
/// leading "/", as GNU tar stores them, so `tar -x -C DIR` restores under DIR. Debian's tar reads
/// it; `age -d … | tar -x` restores a files backup without mastiff.
///
/// A file that shrinks while it is read is padded with zeros to the size its header announced,
/// and one that grows is cut there: the archive stays readable, and the next backup has it whole.
public final class TarArchiveSource: ByteSource, @unchecked Sendable {
    private enum Item {
        case header([UInt8])
        case file(fd: Int32, path: String, remaining: Int)
        case zeros(Int)
    }

    private var pending: [String]
    private var items: [Item] = []
    private var finished = false
    private var trailerWritten = false
    /// Entries archived, for the manifest.
    public private(set) var entries = 0

    /// `paths`: absolute paths; a missing or unreadable one throws when its turn comes, naming it.
    public init(paths: [String]) {
        pending = paths.reversed()
    }

    deinit {
        for item in items { if case .file(let fd, _, _) = item { close(fd) } }
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            if items.isEmpty {
                if let path = pending.popLast() {
                    try enqueue(path)
                    continue
                }
                guard !trailerWritten else { return 0 }
                trailerWritten = true
                items.append(.zeros(1024))
            }
            switch items[0] {
            case .header(let bytes):
                let count = min(buffer.count, bytes.count)
                bytes.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: count) }
                if count == bytes.count { items.removeFirst() } else { items[0] = .header(Array(bytes[count...])) }
                return count
            case .zeros(let remaining):
                let count = min(buffer.count, remaining)
                memset(buffer.baseAddress!, 0, count)
                if count == remaining { items.removeFirst() } else { items[0] = .zeros(remaining - count) }
                return count
            case .file(let fd, let path, let remaining):
                if remaining == 0 {
                    close(fd)
                    items.removeFirst()
                    continue
                }
                let wanted = min(buffer.count, remaining)
                var got = Glibc.read(fd, buffer.baseAddress, wanted)
                if got < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    close(fd)
                    items.removeFirst()
                    throw BackupError("reading \(path): \(reason)")
                }
                if got == 0 {
                    // Shrunk since its header was written: zeros keep the archive well formed.
                    memset(buffer.baseAddress!, 0, wanted)
                    got = wanted
                }
                items[0] = .file(fd: fd, path: path, remaining: remaining - got)
                return got
            }
        }
    }

    /// The headers and content of one path; a directory's children are queued after it.
    private func enqueue(_ path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw BackupError("cannot archive \(path): \(String(cString: strerror(errno))) (mastiff's user must be able to read it)")
        }
        let name = String(path.drop { $0 == "/" })
        let kind = status.st_mode & S_IFMT
        switch kind {
        case S_IFREG:
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else {
                throw BackupError("cannot read \(path): \(String(cString: strerror(errno))) (mastiff's user must be able to read it)")
            }
            let size = Int(status.st_size)
            items.append(.header(Self.header(name: name, status: status, type: "0", size: size)))
            items.append(.file(fd: fd, path: path, remaining: size))
            if size % 512 != 0 { items.append(.zeros(512 - size % 512)) }
        case S_IFDIR:
            items.append(.header(Self.header(name: name.hasSuffix("/") || name.isEmpty ? name : name + "/", status: status, type: "5", size: 0)))
            let children = ((try? FileSystemAccess.listDirectory(path)) ?? []).sorted()
            // Children come next, depth first, before whatever else is pending.
            pending.append(contentsOf: children.reversed().map { (path.hasSuffix("/") ? path : path + "/") + $0 })
        case S_IFLNK:
            var target = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let length = readlink(path, &target, target.count - 1)
            guard length >= 0 else { throw BackupError("cannot read the link \(path): \(String(cString: strerror(errno)))") }
            let link = String(decoding: target[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            items.append(.header(Self.header(name: name, status: status, type: "2", size: 0, link: link)))
        default:
            return
        }
        entries += 1
    }

    // MARK: Headers

    /// A ustar header, preceded by a pax extended header when the name or link does not fit
    /// ustar's fields, or the size is 8 GiB or more.
    static func header(name: String, status: stat, type: Character, size: Int, link: String = "") -> [UInt8] {
        var records: [(String, String)] = []
        var ustarName = name, prefix = ""
        if name.utf8.count > 100 {
            if let split = splitForUstar(name) {
                (prefix, ustarName) = split
            } else {
                records.append(("path", name))
                ustarName = String(decoding: name.utf8.suffix(100), as: UTF8.self)
            }
        }
        if link.utf8.count > 100 { records.append(("linkpath", link)) }
        if size >= 0o77777777777 { records.append(("size", String(size))) }
        var result: [UInt8] = []
        if !records.isEmpty {
            var body: [UInt8] = []
            for (key, value) in records { body += paxRecord(key, value) }
            result += block(name: "PaxHeaders/" + String(decoding: name.utf8.suffix(80), as: UTF8.self), mode: 0o644, uid: 0, gid: 0,
                            size: body.count, mtime: Int(status.st_mtim.tv_sec), type: "x", link: "", prefix: "")
            result += body
            if body.count % 512 != 0 { result += [UInt8](repeating: 0, count: 512 - body.count % 512) }
        }
        result += block(name: ustarName, mode: Int(status.st_mode & 0o7777), uid: Int(status.st_uid), gid: Int(status.st_gid),
                        size: size >= 0o77777777777 ? 0 : size, mtime: Int(status.st_mtim.tv_sec), type: type,
                        link: String(decoding: link.utf8.prefix(100), as: UTF8.self), prefix: prefix)
        return result
    }

    /// ustar's 155-byte prefix and 100-byte name, split at a "/", when the name allows it.
    static func splitForUstar(_ name: String) -> (prefix: String, name: String)? {
        let bytes = Array(name.utf8)
        guard bytes.count <= 256 else { return nil }
        for index in stride(from: min(bytes.count - 1, 155), through: 1, by: -1) where bytes[index] == UInt8(ascii: "/") {
            let rest = bytes.count - index - 1
            if rest > 0, rest <= 100 { return (String(decoding: bytes[..<index], as: UTF8.self), String(decoding: bytes[(index + 1)...], as: UTF8.self)) }
        }
        return nil
    }

    /// "LEN key=value\n", where LEN counts itself.
    static func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length += 1 }
        return Array((String(length) + body).utf8)
    }

    static func block(name: String, mode: Int, uid: Int, gid: Int, size: Int, mtime: Int, type: Character, link: String, prefix: String) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            for (index, byte) in text.utf8.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            // width - 1 digits and a NUL; a value that does not fit (a uid past 2097151) is 0.
            var digits = String(max(0, value), radix: 8)
            if digits.utf8.count > width - 1 { digits = "0" }
            put(String(repeating: "0", count: width - 1 - digits.utf8.count) + digits, at: offset, width: width - 1)
        }
        put(name, at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(uid, at: 108, width: 8)
        octal(gid, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(mtime, at: 136, width: 12)
        put(String(type), at: 156, width: 1)
        put(link, at: 157, width: 100)
        put("ustar", at: 257, width: 6)
        put("00", at: 263, width: 2)
        put(prefix, at: 345, width: 155)
        // The checksum is computed with its own field as eight spaces.
        for index in 148..<156 { header[index] = UInt8(ascii: " ") }
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = String(sum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.utf8.count) + digits, at: 148, width: 6)
        header[154] = 0
        header[155] = UInt8(ascii: " ")
        return header
    }
}
