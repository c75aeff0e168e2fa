import Logging
import MastiffCore
import MastiffPolicies
import MastiffServer
import MastiffStatsd
import ServiceLifecycle
import UnixSignals

/// Re-reads the configuration on SIGHUP and hands each part of the running agent its share of
/// the new one. A bad file keeps the running configuration and is reported by
/// `mastiff_config_last_reload_successful 0` and an error log line.
public struct ConfigurationReloader: Service {
    let facts: AgentFacts
    let configuration: RunningConfiguration
    let collectors: CollectorSet
    let sampler: Sampler<ContinuousClock>
    let alerting: Alerting
    let notifier: Notifier
    let restarts: RestartService
    let statsdBridge: StatsdBridge?
    let authenticator: BasicAuthenticator
    /// `--web.config.file`, when given: it wins over mastiff.yml's web_config at every reload.
    let webConfigPath: String?
    let clock: any WallClock
    let logger: Logger

    public func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    /// One reload; false when the new configuration was refused.
    @discardableResult
    public func reload() -> Bool {
        let newConfig: MastiffConfig
        let newMapping: StatsdMapping
        let newRules: [RuleGroup]
        let newWebConfig: WebConfig?
        do {
            (newConfig, newMapping) = try Agent.loadConfiguration(facts.source)
            newRules = try Agent.loadRules(newConfig)
            newWebConfig = try WebConfig.load(commandLine: webConfigPath, configured: newConfig.webConfig)?.config
        } catch {
            facts.reloadFailed()
            logger.error("configuration reload failed; keeping the running configuration", metadata: ["error": "\(error)"])
            return false
        }
        let old = configuration.current
        if newConfig.listen != old.listen {
            logger.warning("listen address changed; it takes effect after a restart",
                           metadata: ["http.address": "\(old.listen)", "http.new_address": "\(newConfig.listen)"])
        }
        // Only the mapping is swapped in place; every other statsd setting waits for a restart.
        var statsdBesidesMapping = newConfig.statsd
        statsdBesidesMapping.mappingFile = old.statsd.mappingFile
        statsdBesidesMapping.mastodonNamespace = old.statsd.mastodonNamespace
        if statsdBesidesMapping != old.statsd {
            logger.warning("statsd listeners, max_series, unmapped, mapping_cache_size and counter_suffix take effect after a restart; the new mapping is in use")
        }
        statsdBridge?.replaceMapping(newMapping)
        if newWebConfig?.tls != authenticator.tlsSettings {
            logger.warning("web_config's tls_server_config takes effect after a restart (changed certificate files are picked up by themselves)")
        }
        authenticator.replace(newWebConfig)
        alerting.replaceRules(newRules, settings: newConfig.alerts)
        notifier.replaceSettings(newConfig.alerts)
        restarts.replaceTargets(newConfig.restarts, startedAt: clock.now())
        collectors.replace(with: newConfig)
        configuration.replace(with: newConfig)
        sampler.setInterval(newConfig.sampling.interval)
        sampler.invalidate()
        if newConfig.sampling.historyLimit != old.sampling.historyLimit {
            logger.warning("sampling.history_limit takes effect after a restart")
        }
        facts.reloadSucceeded(at: clock.now())
        logger.info("configuration reloaded", metadata: ["config.source": "\(facts.source)"])
        return true
    }
}
