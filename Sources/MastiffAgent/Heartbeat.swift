import Logging
import MastiffClients
import MastiffCore
import ServiceLifecycle

/// Who watches the watchdog: pings alerts.heartbeat.url (healthchecks.io, Uptime Kuma push,
/// ntfy, …) every interval while the sampler is healthy — its latest sample no older than
/// three sampling intervals. When mastiff dies or its sampling stalls, the pings stop and the
/// service on the other side raises the alarm.
public final class HeartbeatService: Service, Sendable {
    private let settings: HeartbeatSettings
    private let logger: Logger
    private let sampleAge: @Sendable () -> Double?
    private let maximumAge: Double

    /// `sampleAge`: seconds since the latest sample, nil before the first.
    public init(settings: HeartbeatSettings, samplingInterval: Duration, logger: Logger, sampleAge: @escaping @Sendable () -> Double?) {
        self.settings = settings
        self.logger = logger
        self.sampleAge = sampleAge
        maximumAge = 3 * samplingInterval.seconds
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    await self.beat()
                    try await Task.sleep(for: self.settings.interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    func beat() async {
        guard let age = sampleAge(), age <= maximumAge else {
            logger.warning("heartbeat withheld: the sampler has no recent sample", metadata: ["sample_age": "\(sampleAge().map { "\(Int($0)) s" } ?? "none")"])
            return
        }
        do {
            let response = try await CurlHTTPClient(timeoutMilliseconds: 10_000, maxBodyBytes: 4096).get(settings.url.reveal())
            if !(200...299).contains(response.status) {
                logger.warning("heartbeat ping answered with an error status", metadata: ["status": "\(response.status)"])
            }
        } catch {
            // The URL may hold a token: only the error is logged.
            logger.warning("heartbeat ping failed", metadata: ["error": "\(error)"])
        }
    }
}
