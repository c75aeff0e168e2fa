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
        /// Stopped because mastiff was stopping (SIGTERM), not by its timeout.
        public var stoppedAtShutdown = false
        public var seconds: Double
        public var output: String
        public var succeeded: Bool { exitCode == 0 && !timedOut }

        public var summary: String {
            if stoppedAtShutdown { return "stopped after \(Int(saturating: seconds)) s because mastiff was stopping" }
            if timedOut { return "timed out after \(Int(saturating: seconds)) s and was stopped" }
            return exitCode == 0 ? "succeeded in \(Int(saturating: seconds)) s" : ChildProcess.describe(exitCode: exitCode)
        }
    }

    public func run(_ job: JobSpec) async throws(ChildProcess.SpawnError) -> Outcome {
        var argv = job.command
        var options = ChildProcess.Options()
        options.stdoutToCapture = true
        options.stderrLimit = outputLimit
        // The job's variables reach it through execve's environment, never its command line
        // (which every local user reads in ps); mastiff's own environment is not passed on
        // (ChildProcess.inheritedVariables).
        options.environment = job.environment
        if let user = job.user {
            guard let entry = getpwnam(user) else { throw ChildProcess.SpawnError(description: "no user '\(user)' on this host") }
            argv = ["/usr/bin/setpriv", "--reuid=\(entry.pointee.pw_uid)", "--regid=\(entry.pointee.pw_gid)", "--init-groups", "--"] + argv
            // What setpriv --reset-env would set for that user, under the job's own variables.
            // (TMPDIR too: mastiff's own may be a directory that user cannot write.)
            let base = ["HOME": String(cString: entry.pointee.pw_dir), "USER": user, "LOGNAME": user,
                        "SHELL": String(cString: entry.pointee.pw_shell), "PATH": "/usr/local/bin:/usr/bin:/bin", "TMPDIR": "/tmp"]
            options.environment = base.merging(job.environment) { _, own in own }
        }
        options.workingDirectory = job.workingDirectory
        let started = ContinuousClock.now
        let child = try ChildProcess(argv, options: options)
        let (code, timedOut) = await child.wait(timeout: job.timeout, grace: job.killGrace)
        let elapsed = ContinuousClock.now - started
        var outcome = Outcome(exitCode: code, timedOut: timedOut, seconds: elapsed.seconds, output: child.stderrText)
        outcome.stoppedAtShutdown = timedOut && Task.isCancelled
        return outcome
    }
}
