import Glibc
import MastiffCore

/// Runs one scheduled command: argv without a shell, as `user` (util-linux's setpriv, with that
/// user's groups), its environment and working directory, bounded by a timeout (TERM to the whole
/// process group, KILL after the grace). Output (stdout and stderr together) is kept up to
/// `outputLimit` bytes, the last ones, for the log.
public struct JobRunner: Sendable {
    public var outputLimit = 16 << 10

    public init() {}

    public struct Outcome: Sendable, Equatable {
        public var exitCode: Int32
        public var timedOut: Bool
        public var seconds: Double
        public var output: String
        public var succeeded: Bool { exitCode == 0 && !timedOut }

        public var summary: String {
            if timedOut { return "timed out after \(Int(seconds)) s and was stopped" }
            if exitCode > 128 { return "killed by signal \(exitCode - 128)" }
            return exitCode == 0 ? "succeeded in \(Int(seconds)) s" : "exited with status \(exitCode)"
        }
    }

    public func run(_ job: JobSpec) async throws(ChildProcess.SpawnError) -> Outcome {
        var argv = job.command
        if let user = job.user {
            guard let entry = getpwnam(user) else { throw ChildProcess.SpawnError(description: "no user '\(user)' on this host") }
            argv = ["/usr/bin/setpriv", "--reuid=\(entry.pointee.pw_uid)", "--regid=\(entry.pointee.pw_gid)", "--init-groups",
                    "--reset-env"] + argv
            // --reset-env sets HOME, USER, SHELL and PATH for that user; the job's own variables
            // are added after it through env.
            if !job.environment.isEmpty {
                argv = Array(argv.prefix(5)) + ["/usr/bin/env"] + job.environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + job.command
            }
        }
        var options = ChildProcess.Options()
        options.stdoutToCapture = true
        options.stderrLimit = outputLimit
        if job.user == nil { options.environment = job.environment }
        options.workingDirectory = job.workingDirectory
        let started = ContinuousClock.now
        let child = try ChildProcess(argv, options: options)
        let (code, timedOut) = await child.wait(timeout: job.timeout, grace: job.killGrace)
        let elapsed = ContinuousClock.now - started
        return Outcome(exitCode: code, timedOut: timedOut,
                       seconds: elapsed.seconds,
                       output: child.stderrText)
    }
}
