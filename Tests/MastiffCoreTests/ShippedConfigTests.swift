import MastiffCore
import Testing

/// etc/mastiff.yml is the reference for every key: it must parse, and the values it shows must
/// be the embedded defaults, or the comments would lie.
@Suite struct ShippedConfigTests {
    static let repositoryRoot: String = {
        let file = #filePath
        return String(file[..<file.firstRange(of: "/Tests/")!.lowerBound])
    }()

    @Test func annotatedConfigShowsTheEmbeddedDefaults() throws {
        let path = Self.repositoryRoot + "/etc/mastiff.yml"
        let config = try ConfigLoader.load(.file(path))
        #expect(config == MastiffConfig())
    }

    @Test func everyKeyInTheParserIsDocumented() throws {
        let text = try FileSystemAccess.readFile(Self.repositoryRoot + "/etc/mastiff.yml")
        for key in ["listen:", "state_dir:", "log:", "level:", "format:", "collectors:", "timeout:", "system:", "enabled:",
                    "filesystems:", "processes:", "pss:", "groups:", "default_groups:", "comm", "exe", "cmdline",
                    "postgres:", "dsn:", "top_tables:", "size_interval:", "mastodon_interval:", "pgbouncer:", "redis:", "url:", "sidekiq:",
                    "redis_url:", "namespace:", "mastodon_endpoints:", "statsd:", "udp:", "tcp:", "unixgram:", "max_packet_size:",
                    "receive_buffer:", "tcp_idle_timeout:", "mapping:", "mastodon_namespace:", "max_series:", "unmapped:", "mapping_cache_size:",
                    "sampling:", "interval:", "history_limit:", "control_socket:"] {
            #expect(text.contains(key), "etc/mastiff.yml does not mention \(key)")
        }
    }
}
