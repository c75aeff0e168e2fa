#if canImport(Glibc)
import Glibc
#endif

/// The blocking-socket steps the statsd listeners and the control socket share.
public enum SocketCalls {
    /// The next connection on a listening socket. Interrupted and aborted accepts are retried;
    /// when descriptors run out it waits for some to close rather than spin. nil when the socket
    /// was shut down (how the listeners are stopped) or failed.
    public static func acceptNext(_ fd: Int32) -> Int32? {
        while true {
            let connection = accept(fd, nil, nil)
            if connection >= 0 { return connection }
            switch errno {
            case EINTR, ECONNABORTED: continue
            case EMFILE, ENFILE: usleep(100_000)
            default: return nil
            }
        }
    }

    /// A `read`/`recv` on `fd` that waits longer than `timeout` fails with EAGAIN (SO_RCVTIMEO);
    /// with `alsoSending`, a blocked `send` likewise (SO_SNDTIMEO).
    public static func setTimeout(_ fd: Int32, _ timeout: Duration, alsoSending: Bool = false) {
        var value = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        if alsoSending { setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) }
    }

    /// The address of the Unix socket at `path`; nil when the path does not fit `sun_path`.
    public static func unixAddress(_ path: String) -> sockaddr_un? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        guard path.utf8.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
        }
        return address
    }

    /// The longest Unix socket path, for error messages.
    public static var maxUnixPathLength: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1 }
}
