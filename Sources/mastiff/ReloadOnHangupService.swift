import MastiffAgent
import ServiceLifecycle
import UnixSignals

/// Reloads the configuration on SIGHUP, for as long as the agent runs.
struct ReloadOnHangupService: Service {
    let agent: Agent

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            agent.reload()
        }
    }
}
