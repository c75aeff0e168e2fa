import MastiffCore
import Testing

/// The socket path mastiff checks before loading libpq: given only where libpq could go nowhere
/// else, so the check never changes which servers can be reached.
@Suite struct ConnectionStringSocketTests {
    static func socket(_ conninfo: String, _ environment: [String: String] = [:]) -> String? {
        ConnectionStringParts.onlyUnixSocket(conninfo, environment: { environment[$0] })
    }

    @Test(arguments: [
        ("host=/var/run/postgresql dbname=mastodon_production user=mastodon", "/var/run/postgresql/.s.PGSQL.5432"),
        ("host=/run/pg/ port=5433 dbname=x", "/run/pg/.s.PGSQL.5433"),
        ("host = '/srv/my sockets' port = '6432' user=mastodon password='it''s'", nil),
        ("host = '/srv/my sockets' port = '6432' user=mastodon password='it\\'s'", "/srv/my sockets/.s.PGSQL.6432"),
        ("port=5434 host=/tmp host=/var/run/postgresql", "/var/run/postgresql/.s.PGSQL.5434"),
    ] as [(String, String?)])
    func aSingleSocketDirectoryIsChecked(conninfo: String, expected: String?) {
        #expect(Self.socket(conninfo) == expected)
    }

    @Test func theEnvironmentsPortCountsOnlyWhenTheStringHasNone() {
        #expect(Self.socket("host=/var/run/postgresql", ["PGPORT": "5499"]) == "/var/run/postgresql/.s.PGSQL.5499")
        #expect(Self.socket("host=/var/run/postgresql port=5432", ["PGPORT": "5499"]) == "/var/run/postgresql/.s.PGSQL.5432")
    }

    /// Anything libpq could send elsewhere, or would refuse with its own message, is left to it.
    @Test(arguments: [
        "host=127.0.0.1 dbname=x",
        "host=/var/run/postgresql,/tmp dbname=x",
        "host=/var/run/postgresql hostaddr=10.0.0.1",
        "host=/var/run/postgresql service=mastodon",
        "dbname=mastodon_production user=mastodon",
        "postgresql:///mastodon_production?host=/var/run/postgresql",
        "host=/var/run/postgresql port=5432,5433",
        "host=/var/run/postgresql port=54x2",
        "host=/var/run/postgresql password=correct horse=battery",
        "host=/var/run/postgresql password=correct horse battery",
        "host=/var/run/postgresql password='unterminated",
        "host=@abstract dbname=x",
        "host=/var/run/postgresql =orphan",
    ])
    func everythingElseGoesToLibpq(conninfo: String) {
        #expect(Self.socket(conninfo) == nil)
    }

    @Test func aServiceOrHostAddressFromTheEnvironmentGoesToLibpq() {
        #expect(Self.socket("host=/var/run/postgresql", ["PGSERVICE": "mastodon"]) == nil)
        #expect(Self.socket("host=/var/run/postgresql", ["PGHOSTADDR": "10.0.0.1"]) == nil)
    }
}
