import MastiffCore
@testable import MastiffStatsd
import MastiffTestSupport
import Testing

/// The shipped Mastodon mapping against the names Mastodon ≤ 4.2 sends (nsa gem + statsd-ruby).
@Suite struct MastodonMappingTests {
    static let repositoryRoot = RepositoryPaths.root

    @Test func embeddedMappingIsTheShippedFile() throws {
        let shipped = try FileSystemAccess.readFile(Self.repositoryRoot + "/etc/statsd-mapping-mastodon.yml")
        #expect(shipped == MastodonStatsdMapping.shipped, "run scripts/embed-mastodon-mapping.py after editing the YAML")
        _ = try StatsdMapping.parse(shipped, file: "etc/statsd-mapping-mastodon.yml")
    }

    static let traffic = """
        Mastodon.production.web.Api.V1.StatusesController.create.json.total_duration:182.5|ms
        Mastodon.production.web.Api.V1.StatusesController.create.json.db_time:40|ms
        Mastodon.production.web.Api.V1.StatusesController.create.json.view_time:12|ms
        Mastodon.production.web.Api.V1.StatusesController.create.json.status.200:1|c
        Mastodon.production.web.HomeController.index.html.status.302:1|c
        Mastodon.production.db.tables.statuses.queries.select.duration:1.5|ms
        Mastodon.production.cache.fetch_hit.duration:0.4|ms
        Mastodon.production.sidekiq.LinkCrawlWorker.processing_time:250|ms
        Mastodon.production.sidekiq.ActivityPub.DeliveryWorker.processing_time:93|ms
        Mastodon.production.sidekiq.ActivityPub..DeliveryWorker.success:1|c
        Mastodon.production.sidekiq.ActivityPub.DeliveryWorker.failure:1|c
        Mastodon.production.sidekiq.queues.push.enqueued:12|g
        Mastodon.production.sidekiq.queues.push.latency:0.75|g
        Mastodon.production.sidekiq.dead_size:3|g
        """

    @Test func mastodonNamesBecomeMastodonFamilies() throws {
        let bridge = try Bridge(MastodonStatsdMapping.shipped)
        bridge.send(Self.traffic)
        let lines = bridge.lines()
        for expected in [
            #"mastodon_web_request_duration_seconds_sum{action="create",controller="Api.V1.StatusesController",format="json"} 0.1825"#,
            #"mastodon_web_db_duration_seconds_count{action="create",controller="Api.V1.StatusesController",format="json"} 1"#,
            #"mastodon_web_view_duration_seconds_bucket{action="create",controller="Api.V1.StatusesController",format="json",le="0.025"} 1"#,
            #"mastodon_web_requests_total{action="create",controller="Api.V1.StatusesController",format="json",status="200"} 1"#,
            #"mastodon_web_requests_total{action="index",controller="HomeController",format="html",status="302"} 1"#,
            #"mastodon_db_query_duration_seconds_bucket{operation="select",table="statuses",le="0.0025"} 1"#,
            #"mastodon_cache_operation_duration_seconds_count{operation="fetch_hit"} 1"#,
            #"mastodon_sidekiq_job_duration_seconds_sum{worker="LinkCrawlWorker"} 0.25"#,
            #"mastodon_sidekiq_job_duration_seconds_sum{worker="ActivityPub::DeliveryWorker"} 0.093"#,
            #"mastodon_sidekiq_jobs_total{outcome="success",worker="ActivityPub::DeliveryWorker"} 1"#,
            #"mastodon_sidekiq_jobs_total{outcome="failure",worker="ActivityPub::DeliveryWorker"} 1"#,
            #"mastodon_sidekiq_queue_enqueued_jobs{queue="push"} 12"#,
            #"mastodon_sidekiq_queue_latency_seconds{queue="push"} 0.75"#,
            "mastodon_sidekiq_dead_jobs 3",
        ] {
            #expect(lines.contains(expected), "missing: \(expected)")
        }
        #expect(bridge.store.statistics.unmapped == 0)
        #expect(bridge.store.statistics.conflicts.isEmpty)
    }

    @Test func namespaceIsSubstituted() throws {
        let bridge = try Bridge(MastodonStatsdMapping.text(namespace: "social.staging"))
        bridge.send("social.staging.sidekiq.LinkCrawlWorker.success:1|c\nsocial.staging.web.HomeController.index.html.status.200:1|c\nMastodon.production.sidekiq.dead_size:1|g")
        #expect(bridge.lines().contains(#"mastodon_sidekiq_jobs_total{outcome="success",worker="LinkCrawlWorker"} 1"#))
        #expect(bridge.lines().contains(#"mastodon_web_requests_total{action="index",controller="HomeController",format="html",status="200"} 1"#))
        #expect(bridge.lines().contains("mastodon_production_sidekiq_dead_size 1"))
    }
}
