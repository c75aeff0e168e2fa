import Foundation
import Testing

/// A UDP socket on loopback for sending statsd lines (or, bound, for occupying a port).
final class StatsdSender {
    let fd: Int32
    let port: Int
    private(set) var localPort = 0

    init(port: Int, bindLocally: Bool = false) throws {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        self.port = port
        guard fd >= 0 else { throw HarnessError("socket failed") }
        if bindLocally {
            var address = Self.loopback(port: 0)
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw HarnessError("bind failed") }
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            localPort = Int(UInt16(bigEndian: address.sin_port))
        }
    }

    deinit { close(fd) }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    func send(_ packet: String) {
        var address = Self.loopback(port: port)
        let bytes = Array(packet.utf8)
        _ = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}

/// `python3 -m http.server` serving a directory of fixtures on a free loopback port: a
/// stand-in for Mastodon's streaming and prometheus_exporter endpoints, answering the files
/// they were captured from.
final class HTTPFixtureServer {
    let pid: pid_t
    let port: Int

    init(directory: String) throws {
        port = try Self.freeTCPPort()
        let log = try Harness.temporaryDirectory().appendingPathComponent("http.log").path
        pid = try Harness.spawn("/usr/bin/env", ["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", directory, "\(port)"],
                                log: log)
        for _ in 0..<100 {
            if (try? Harness.run(try Harness.which("curl"), ["-s", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]))?.status == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("fixture HTTP server did not start on port \(port)")
    }

    deinit {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
    }

    static func freeTCPPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = StatsdSender.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
