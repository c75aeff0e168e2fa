/// One entry of `restarts:` (docs/restarts.md): which processes, how to restart them, when, and
/// within which guards.
public struct RestartTargetSpec: Sendable, Equatable {
    public enum Method: Sendable, Equatable {
        /// A signal to the chosen process (Puma cluster mode: TERM to one worker, and the master
        /// forks a new one).
        case signal(name: String, number: Int32)
        /// argv run with `{pid}` replaced by the chosen process's pid, killed after `timeout`.
        case command(argv: [String], timeout: Duration)
        /// supervisord's XML-RPC interface (`http://host:port` or `unix:///path/to/supervisor.sock`):
        /// stopProcess then startProcess of `program` (`group:name` for a group's member).
        case supervisord(url: String, program: String)
        /// `systemctl restart UNIT`; nil: the unit found from the process's cgroup.
        case systemd(unit: String?)
        /// The Docker container the process runs in, through the Engine API on `socket`.
        case docker(socket: String)
    }

    public var name: String
    /// The process group (collectors.processes.groups) this target watches.
    public var group: String
    public var method: Method
    public var maxAge: Duration?
    public var jitter: Duration = .zero
    public var maxMemory: ByteSize?
    /// pss (default) or rss.
    public var memoryKind = "pss"
    public var sustainedSamples = 3
    public var onAlerts: [String] = []
    public var minUptime: Duration = .seconds(600)
    public var healthTimeout: Duration = .seconds(300)
    public var budget = 3
    public var budgetWindow: Duration = .seconds(3600)
    public var dryRun = false
    /// `graceful: sidekiq`: quiet the process (SIGTSTP) and wait until it has no busy job
    /// (from Sidekiq's process data in Redis), at most `drainTimeout`, before the restart.
    public var gracefulSidekiq = false
    public var drainTimeout: Duration = .seconds(60)
    /// Only processes of this account are restarted (nil: any, when the method itself names
    /// what it restarts); see `ConfigLoader.restartOwner`.
    public var owner: ProcessOwner?

    public init(name: String, group: String, method: Method) {
        self.name = name
        self.group = group
        self.method = method
    }
}
