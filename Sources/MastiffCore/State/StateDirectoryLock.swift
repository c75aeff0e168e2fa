#if canImport(Glibc)
import Glibc
#endif

/// The running agent's claim on its `state_dir`: an exclusive `flock` on `state_dir/lock`,
/// held until the process exits. Two agents sharing one directory would both deliver every
/// notification and overwrite each other's state; the second refuses to start instead, naming
/// the first one's PID. The directory must also be mastiff's alone: one that other users can
/// write to lets them plant or swap the files mastiff trusts at its next start.
public final class StateDirectoryLock: Sendable {
    public let directory: String
    private let fd: Int32

    public struct Refusal: Error, CustomStringConvertible {
        public let description: String
    }

    private init(directory: String, fd: Int32) {
        self.directory = directory
        self.fd = fd
    }

    deinit { close(fd) }

    /// Creates the directory (0700) if it is missing, checks who may write to it, and takes the
    /// lock. `owner`: the user mastiff runs as (the directory may also belong to root).
    public static func acquire(_ directory: String, owner: uid_t = geteuid(), pid: Int32 = getpid()) throws(Refusal) -> StateDirectoryLock {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw Refusal(description: "state_dir \(directory) cannot be created: \(String(cString: strerror(errno)))")
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw Refusal(description: "state_dir \(directory) cannot be opened: \(String(cString: strerror(errno)))") }
        defer { close(directoryFD) }
        var status = stat()
        guard fstat(directoryFD, &status) == 0 else { throw Refusal(description: "state_dir \(directory): \(String(cString: strerror(errno)))") }
        if status.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            throw Refusal(description: "state_dir \(directory) is writable by other users (mode \(String(status.st_mode & 0o7777, radix: 8))): "
                + "they could replace the state mastiff trusts; run chmod go-w \(directory)")
        }
        if status.st_uid != owner && status.st_uid != 0 {
            throw Refusal(description: "state_dir \(directory) belongs to uid \(status.st_uid), not to the user mastiff runs as (uid \(owner)) or root; "
                + "give mastiff a directory of its own (chown it, or set state_dir)")
        }
        let fd = openat(directoryFD, "lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Refusal(description: "\(directory)/lock cannot be opened: \(String(cString: strerror(errno)))") }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(fd, &buffer, buffer.count, 0)
            close(fd)
            let holder = count > 0 ? String(decoding: buffer[0..<count], as: UTF8.self).trimmingWhitespace : ""
            guard reason == EWOULDBLOCK else { throw Refusal(description: "\(directory)/lock cannot be locked: \(String(cString: strerror(reason)))") }
            let named = Int32(holder).map { "PID \($0)" } ?? "another process"
            throw Refusal(description: "another mastiff (\(named)) is using state_dir \(directory); stop it, or give this agent its own state_dir")
        }
        let text = Array("\(pid)\n".utf8)
        _ = ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return StateDirectoryLock(directory: directory, fd: fd)
    }
}
