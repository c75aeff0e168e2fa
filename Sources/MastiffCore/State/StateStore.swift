#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

/// What must survive a restart of mastiff, in one small JSON file under `state_dir`: one
/// section per owner (restart budgets, alert states, pending notifications, schedules' last
/// runs), each a `JSONValue` its owner reads back at start.
///
/// Written atomically: a temporary file in the same directory, fsync, rename over the old file,
/// fsync of the directory — a crash at any point leaves either the old file or the new one,
/// never a mix. A file that cannot be read as this format (corrupt, truncated, from a newer
/// mastiff) is moved aside with a warning and mastiff starts clean; an unwritable directory is
/// logged and counted in `mastiff_state_write_failures_total`, and mastiff keeps running on
/// what it holds in memory. Owners must treat a missing section as "nothing happened recently"
/// in the safe direction: losing the file must never cause a burst of actions.
struct StateFileTooLarge: Error, CustomStringConvertible {
    let bytes: Int
    let section: String
    var description: String {
        "the state would take \(bytes) bytes, over the \(StateStore.maxFileSize) a state file may have (section \(section) grew); the previous file is kept"
    }
}

public final class StateStore: Sendable {
    public static let formatVersion = 1
    public static let fileName = "state.json"
    /// The whole file is read at start; anything larger is not a mastiff state file.
    public static let maxFileSize = 4 << 20

    /// How the file looked at start and whether writes succeed: what `mastiff status` shows.
    public enum Health: Sendable, Equatable, CustomStringConvertible {
        case ok
        /// No file yet (first start, or nothing written).
        case empty
        /// The file could not be used and was moved to the path given.
        case movedAside(String)
        /// The last write failed for the reason given.
        case writeFailing(String)

        public var description: String {
            switch self {
            case .ok: "ok"
            case .empty: "no state yet"
            case .movedAside(let path): "unreadable state file moved to \(path); started clean"
            case .writeFailing(let reason): "cannot write: \(reason)"
            }
        }
    }

    private struct State {
        var sections: [String: JSONValue] = [:]
        /// Sections changed in memory and not yet written, with the change's number (a write
        /// clears only the changes it carried).
        var unwritten: [String: Int] = [:]
        var changes = 0
        var health: Health = .empty
        var writeFailures = 0
        var lastWrite: Double?
    }

    public let directory: String
    private let logger: Logger
    private let wallClock: any WallClock
    private let state = Mutex(State())
    /// Serialises writers, so two owners' updates never interleave their renames.
    private let writeLock = Mutex(())

    public var path: String { directory + "/" + Self.fileName }

    /// Reads the file (if any) at once; problems are logged, never thrown.
    public init(directory: String, logger: Logger, wallClock: any WallClock = SystemWallClock()) {
        self.directory = directory
        self.logger = logger
        self.wallClock = wallClock
        load()
    }

    public var health: Health { state.withLock { $0.health } }
    public var writeFailures: Int { state.withLock { $0.writeFailures } }

    public func section(_ name: String) -> JSONValue? {
        state.withLock { $0.sections[name] }
    }

    /// Replaces one section in memory; the next `flush` (StateFlushService, at most a second
    /// later, and once more when mastiff stops) or `update` writes it. For what changes on hot
    /// paths — a delivery's outcome, an evaluation's alert states — where one write per change
    /// would cost two fsyncs each; not for what must be on disk before the next action (restart
    /// times: losing them could allow a burst).
    public func stage(_ name: String, _ value: JSONValue) {
        state.withLock { state in
            state.sections[name] = value
            state.changes += 1
            state.unwritten[name] = state.changes
        }
    }

    /// Whether staged sections wait to be written.
    public var hasUnwrittenChanges: Bool { state.withLock { !$0.unwritten.isEmpty } }

    /// Writes the file if a staged section waits. False when that write failed (the sections
    /// stay staged and are written by the next flush or update that succeeds).
    @discardableResult
    public func flush() -> Bool {
        guard hasUnwrittenChanges else { return true }
        return write(naming: state.withLock { $0.unwritten.keys.sorted().first ?? "" })
    }

    /// Replaces one section and writes the file (with anything staged). Returns false (and
    /// counts it) when the write failed; the value is kept in memory and written with the next
    /// successful update or flush.
    @discardableResult
    public func update(_ name: String, _ value: JSONValue) -> Bool {
        stage(name, value)
        return write(naming: name)
    }

    /// Writes every section; `name` is the one named if the file would grow too large.
    private func write(naming name: String) -> Bool {
        writeLock.withLock { _ in
            let (sections, written) = state.withLock { state in (state.sections, state.unwritten) }
            let now = wallClock.now()
            let document = JSONValue.object([
                "format_version": .number(Double(Self.formatVersion)),
                "written_at": .number(now),
                "sections": .object(sections),
            ])
            // Compact: the notification queue can hold thousands of entries (`jq .` shows it
            // indented). A document too large to be read back is not written at all: writing
            // it would lose every section at the next start.
            let text = document.serialized(indent: false) + "\n"
            do {
                guard text.utf8.count <= Self.maxFileSize else {
                    throw StateFileTooLarge(bytes: text.utf8.count, section: name)
                }
                try writeAtomically(text)
                let recovered = state.withLock { state -> Bool in
                    let wasFailing = if case .writeFailing = state.health { true } else { false }
                    // What was staged since this write began stays staged.
                    for (section, change) in written where state.unwritten[section] == change { state.unwritten[section] = nil }
                    state.health = .ok
                    state.lastWrite = now
                    return wasFailing
                }
                if recovered { logger.info("state file written again", metadata: ["state.path": "\(path)"]) }
                return true
            } catch {
                let first = state.withLock { state -> Bool in
                    let wasFailing = if case .writeFailing = state.health { true } else { false }
                    state.health = .writeFailing("\(error)")
                    state.writeFailures += 1
                    return !wasFailing
                }
                // Once per failing spell, not on every update.
                if first {
                    logger.error("cannot write the state file; keeping state in memory", metadata: ["state.path": "\(path)", "error": "\(error)"])
                }
                return false
            }
        }
    }

    /// `mastiff_state_*`.
    public func selfMetrics() -> [MetricFamily] {
        let (failures, lastWrite) = state.withLock { ($0.writeFailures, $0.lastWrite) }
        var families = [
            MetricFamily(name: "mastiff_state_write_failures_total", help: "Writes of the state file that failed (full disk, unwritable state_dir).",
                         type: .counter, samples: [Sample(labels: [], value: Double(failures))]),
        ]
        if let lastWrite {
            families.append(MetricFamily(name: "mastiff_state_last_write_timestamp_seconds",
                                         help: "When the state file was last written, in seconds since the Unix epoch.",
                                         type: .gauge, samples: [Sample(labels: [], value: lastWrite)]))
        }
        return families
    }

    public struct WriteError: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private func load() {
        let text: String
        do {
            text = try FileSystemAccess.readRegularFile(path, limit: Self.maxFileSize)
        } catch {
            if case .unreadable(let access) = error, access.errno == ENOENT {
                probeWritable()
                return
            }
            moveAside(reason: "\(error)")
            return
        }
        guard let document = JSONValue.parse(text), let version = document["format_version"]?.double,
              case .object(let sections)? = document["sections"] else {
            moveAside(reason: "not a mastiff state file (corrupt or truncated)")
            return
        }
        guard Int(version) == Self.formatVersion else {
            moveAside(reason: "format version \(Int(version)), this mastiff reads \(Self.formatVersion)")
            return
        }
        state.withLock {
            $0.sections = sections
            $0.health = .ok
        }
        probeWritable()
    }

    /// Says at start, not at the first update, that the directory cannot take the file. A
    /// missing directory is created (its parent must exist): outside systemd's StateDirectory=.
    private func probeWritable() {
        if access(directory, F_OK) != 0 { mkdir(directory, 0o700) }
        do {
            let (fd, probe) = try Self.createUniqueFile(directory + "/.mastiff-write-test")
            close(fd)
            unlink(probe)
        } catch {
            let reason = error.description
            state.withLock {
                $0.health = .writeFailing(reason)
                $0.writeFailures += 1
            }
            logger.error("state directory is not writable; state will not survive a restart",
                         metadata: ["state.path": "\(path)", "error": "\(reason)"])
        }
    }

    /// A new file `<prefix>.XXXXXX`, created with O_EXCL (mkstemp): an existing file, a
    /// symlink or a hard link planted under a predictable name is never opened, so nobody can
    /// make mastiff write through it or truncate its target.
    public static func createUniqueFile(_ prefix: String) throws(WriteError) -> (Int32, String) {
        var template = Array((prefix + ".XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw WriteError(description: "\(prefix).XXXXXX: \(String(cString: strerror(errno)))") }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let name = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (fd, name)
    }

    private func moveAside(reason: String) {
        let aside = path + ".unreadable-\(Int(wallClock.now()))"
        let moved = rename(path, aside) == 0
        state.withLock { $0.health = .movedAside(moved ? aside : path) }
        logger.warning("state file unreadable; moved aside and starting clean",
                       metadata: ["state.path": "\(path)", "state.moved_to": "\(moved ? aside : "(could not move)")", "error": "\(reason)"])
        probeWritable()
    }

    private func writeAtomically(_ text: String) throws(WriteError) {
        let (fd, temporary) = try Self.createUniqueFile(path + ".tmp")
        var failure: String?
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = String(cString: strerror(errno))
                break
            }
            written += count
        }
        if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw WriteError(description: "\(temporary): \(failure)")
        }
        guard rename(temporary, path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw WriteError(description: "\(path): \(reason)")
        }
        // The rename itself is durable only once the directory is synced.
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            fsync(directoryFD)
            close(directoryFD)
        }
    }
}
