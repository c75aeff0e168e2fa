import Glibc
import MastiffClients
import MastiffCore
import MastiffPolicies

/// Carries out a restart the policy decided. One file per method; each says what happened in
/// words fit for the log.
public protocol Restarter: Sendable {
    func restart(_ action: RestartAction) async -> Result<String, RestartFailure>
}

public struct RestartFailure: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A signal to the chosen process (and only to it: ProcessSignal).
public struct SignalRestarter: Restarter {
    let name: String
    let number: Int32
    let procRoot: String

    public init(name: String, number: Int32, procRoot: String = "/proc") {
        self.name = name
        self.number = number
        self.procRoot = procRoot
    }

    public func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
        switch ProcessSignal.send(number, to: action.pid, startedAt: action.startTime, ownerUID: action.ownerUID, procRoot: procRoot) {
        case .success: return .success("sent SIG\(name) to \(action.pid)")
        case .failure(let failure): return .failure(RestartFailure("SIG\(name) to \(action.pid): \(failure)"))
        }
    }
}

/// A command (argv, no shell) with `{pid}` replaced, bounded by a timeout.
public struct CommandRestarter: Restarter {
    let argv: [String]
    let timeout: Duration

    public init(argv: [String], timeout: Duration) {
        self.argv = argv
        self.timeout = timeout
    }

    public func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
        let arguments = argv.map { $0.replacingPid(action.pid) }
        // A child like every other: mastiff's environment (S3 keys, tokens) is not passed on,
        // and a timeout stops its whole process group.
        var options = ChildProcess.Options()
        options.stderrLimit = 4096
        let child: ChildProcess
        do { child = try ChildProcess(arguments, options: options) } catch { return .failure(RestartFailure(error.description)) }
        let (code, timedOut) = await child.wait(timeout: timeout, grace: .seconds(1))
        if timedOut {
            return .failure(RestartFailure("\(arguments.joined(separator: " ")) did not finish within \(DurationParser.format(timeout)); killed"))
        }
        return code == 0 ? .success("ran \(arguments.joined(separator: " "))")
            : .failure(RestartFailure("\(arguments.joined(separator: " ")) \(ChildProcess.describe(exitCode: code))"
                + (child.stderrText.isEmpty ? "" : ": " + String(child.stderrText.trimmingWhitespace.suffix(300)).escapingControlCharacters)))
    }
}

/// supervisord's XML-RPC interface: stopProcess then startProcess of the program, each waiting
/// for the state change (supervisord.org/api.html).
public struct SupervisordRestarter: Restarter {
    let url: String
    let program: String
    let procRoot: String

    public init(url: String, program: String, procRoot: String = "/proc") {
        self.url = url
        self.program = program
        self.procRoot = procRoot
    }

    /// A call with the program's name and, for stop and start, `wait` true.
    static func call(_ method: String, _ program: String, wait: Bool = true) -> [UInt8] {
        let escaped = XMLText.escape(program)
        return Array("""
        <?xml version="1.0"?><methodCall><methodName>\(method)</methodName><params>\
        <param><value><string>\(escaped)</string></value></param>\
        \(wait ? "<param><value><boolean>1</boolean></value></param>" : "")</params></methodCall>
        """.utf8)
    }

    /// The `pid` member of getProcessInfo's answer (0 when the program is not running).
    static func pid(inProcessInfo text: String) -> Int? {
        guard let member = text.firstRange(of: "<name>pid</name>") else { return nil }
        let rest = text[member.upperBound...].prefix(200)
        for tag in ["int", "i4"] {
            if let open = rest.firstRange(of: "<\(tag)>"), let close = rest[open.upperBound...].firstRange(of: "</\(tag)>") {
                return Int(String(rest[open.upperBound..<close.lowerBound]).trimmingWhitespace)
            }
        }
        return nil
    }

    func post(_ method: String, wait: Bool = true) async -> Result<String, RestartFailure> {
        var request = HTTPRequest(method: "POST", url: url.hasPrefix("unix://") ? "http://localhost/RPC2" : url + "/RPC2",
                                  headers: ["Content-Type: text/xml"], body: Self.call(method, program, wait: wait))
        if url.hasPrefix("unix://") { request.unixSocket = String(url.dropFirst("unix://".count)) }
        do {
            let response = try await CurlHTTPClient(timeoutMilliseconds: 60_000, maxBodyBytes: 64 << 10).send(request)
            guard response.status == 200 else { return .failure(RestartFailure("supervisord answered HTTP \(response.status)")) }
            if response.text.contains("<fault>") {
                let message = response.text.slice(between: "<name>faultString</name><value><string>", and: "</string>") ?? response.text.prefix(200).description
                return .failure(RestartFailure("supervisord \(method) \(program): \(message)"))
            }
            return .success(response.text)
        } catch {
            return .failure(RestartFailure("supervisord \(method) \(program): \(error)"))
        }
    }

    public func restart(_ action: RestartAction) async -> Result<String, RestartFailure> {
        // The process chose the restart; it must be the program's (its pid or a child of it),
        // not one that only looks like it.
        let info: String
        switch await post("supervisor.getProcessInfo", wait: false) {
        case .success(let text): info = text
        case .failure(let failure): return .failure(failure)
        }
        guard let programPID = Self.pid(inProcessInfo: info), programPID > 0 else {
            return .failure(RestartFailure("supervisord says \(program) is not running: process \(action.pid) is not its own; not restarted"))
        }
        guard ProcessTree.isDescendant(action.pid, of: programPID, procRoot: procRoot) else {
            return .failure(RestartFailure("process \(action.pid) is not \(program)'s (supervisord runs it as \(programPID)): not restarted"))
        }
        if case .failure(let failure) = await post("supervisor.stopProcess") { return .failure(failure) }
        if case .failure(let failure) = await post("supervisor.startProcess") { return .failure(failure) }
        return .success("supervisord restarted \(program)")
    }
}

extension String {
    func replacingPid(_ pid: Int) -> String {
        var result = ""
        var rest = Substring(self)
        while let range = rest.firstRange(of: "{pid}") {
            result += rest[..<range.lowerBound] + String(pid)
            rest = rest[range.upperBound...]
        }
        return result + rest
    }

    func slice(between start: String, and end: String) -> String? {
        guard let from = firstRange(of: start) else { return nil }
        let rest = self[from.upperBound...]
        guard let to = rest.firstRange(of: end) else { return nil }
        return String(rest[..<to.lowerBound])
    }
}
