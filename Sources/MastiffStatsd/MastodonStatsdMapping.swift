/// The built-in mapping for Mastodon ≤ 4.2: etc/statsd-mapping-mastodon.yml, byte for byte (a
/// test compares them), so `mastiff run` maps Mastodon's names with no file installed.
public enum MastodonStatsdMapping {
    public static let defaultNamespace = "Mastodon.production"

    /// The mapping text with `namespace` (Mastodon's STATSD_NAMESPACE) in place of the default.
    public static func text(namespace: String = defaultNamespace) -> String {
        guard namespace != defaultNamespace else { return shipped }
        let escapedNamespace = namespace.split(separator: ".").joined(separator: "\\.")
        return replacing(replacing(shipped, "Mastodon\\.production", with: escapedNamespace), "Mastodon.production.", with: namespace + ".")
    }

    private static func replacing(_ text: String, _ target: String, with replacement: String) -> String {
        let source = Array(text.utf8)
        let needle = Array(target.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            if source[index] == needle[0], source[index...].starts(with: needle) {
                output.append(contentsOf: replacement.utf8)
                index += needle.count
            } else {
                output.append(source[index])
                index += 1
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    public static let shipped = #"""
# statsd mapping for Mastodon ≤ 4.2 (STATSD_ADDR), in statsd_exporter's mapping format.
#
# mastiff uses this mapping when statsd.mapping is "" (the default); it is built in, with
# "Mastodon.production" replaced by statsd.mastodon_namespace (Mastodon's STATSD_NAMESPACE,
# default "Mastodon.<RAILS_ENV>"). Copy it, edit it and point statsd.mapping at the copy to
# change it; statsd_exporter reads the same file unchanged.
#
# Where the names come from: Mastodon's config/initializers/statsd.rb hands a statsd-ruby client
# to the nsa gem, which reports Rails controller actions (web.*), ActiveRecord queries (db.*),
# cache calls (cache.*) and Sidekiq jobs (sidekiq.*). statsd-ruby writes "::" in class names as
# ".", so Api::V1::StatusesController arrives as Api.V1.StatusesController; some clients write
# "..". Timers arrive in milliseconds and are exposed in seconds.
#
# Glob rules are tried before regex rules, whatever their order here; among globs and among
# regexes the first match in file order wins.

defaults:
  observer_type: histogram
  # Request-shaped buckets, in seconds.
  histogram_options:
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

mappings:
  # --- Rails controllers: web.<Controller.Path>.<action>.<format>.<timing> ---------------------
  - match: '^Mastodon\.production\.web\.(.+)\.([^.]+)\.([^.]+)\.total_duration$'
    match_type: regex
    match_metric_type: observer
    name: mastodon_web_request_duration_seconds
    help: Time to process a Rails controller action, by controller, action and format.
    labels: {controller: "$1", action: "$2", format: "$3"}
  - match: '^Mastodon\.production\.web\.(.+)\.([^.]+)\.([^.]+)\.db_time$'
    match_type: regex
    match_metric_type: observer
    name: mastodon_web_db_duration_seconds
    help: Time a Rails controller action spent in ActiveRecord.
    labels: {controller: "$1", action: "$2", format: "$3"}
  - match: '^Mastodon\.production\.web\.(.+)\.([^.]+)\.([^.]+)\.view_time$'
    match_type: regex
    match_metric_type: observer
    name: mastodon_web_view_duration_seconds
    help: Time a Rails controller action spent rendering views.
    labels: {controller: "$1", action: "$2", format: "$3"}
  - match: '^Mastodon\.production\.web\.(.+)\.([^.]+)\.([^.]+)\.status\.([0-9]+)$'
    match_type: regex
    match_metric_type: counter
    name: mastodon_web_requests_total
    help: Rails controller actions processed, by controller, action, format and HTTP status.
    labels: {controller: "$1", action: "$2", format: "$3", status: "$4"}

  # --- ActiveRecord: db.tables.<table>.queries.<select|insert|update|delete>.duration -------------
  - match: Mastodon.production.db.tables.*.queries.*.duration
    name: mastodon_db_query_duration_seconds
    help: Time of SQL statements issued by Mastodon, by table and statement type.
    histogram_options:
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5]
    labels: {table: "$1", operation: "$2"}

  # --- Rails cache: cache.<operation>.duration ------------------------------------------------
  - match: Mastodon.production.cache.*.duration
    name: mastodon_cache_operation_duration_seconds
    help: Time of Rails cache calls (read, write, fetch_hit, generate, delete, exist?), by operation.
    histogram_options:
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
    labels: {operation: "$1"}

  # --- Sidekiq queues and totals (gauges the nsa middleware sends after every job) ---------------
  - match: Mastodon.production.sidekiq.queues.*.enqueued
    name: mastodon_sidekiq_queue_enqueued_jobs
    help: Jobs waiting in a Sidekiq queue, as last reported by a Sidekiq process.
    labels: {queue: "$1"}
  - match: Mastodon.production.sidekiq.queues.*.latency
    name: mastodon_sidekiq_queue_latency_seconds
    help: Age of the oldest job in a Sidekiq queue, as last reported by a Sidekiq process.
    labels: {queue: "$1"}
  - match: Mastodon.production.sidekiq.dead_size
    name: mastodon_sidekiq_dead_jobs
    help: Jobs in Sidekiq's dead set.
  - match: Mastodon.production.sidekiq.enqueued
    name: mastodon_sidekiq_enqueued_jobs
    help: Jobs waiting in all Sidekiq queues.
  - match: Mastodon.production.sidekiq.failed
    name: mastodon_sidekiq_failed_jobs
    help: Jobs failed since Sidekiq's statistics were reset (a gauge in statsd).
  - match: Mastodon.production.sidekiq.processed
    name: mastodon_sidekiq_processed_jobs
    help: Jobs processed since Sidekiq's statistics were reset (a gauge in statsd).
  - match: Mastodon.production.sidekiq.processes_size
    name: mastodon_sidekiq_processes
    help: Sidekiq processes alive.
  - match: Mastodon.production.sidekiq.retry_size
    name: mastodon_sidekiq_retry_jobs
    help: Jobs in Sidekiq's retry set.
  - match: Mastodon.production.sidekiq.scheduled_size
    name: mastodon_sidekiq_scheduled_jobs
    help: Jobs in Sidekiq's scheduled set.
  - match: Mastodon.production.sidekiq.workers_size
    name: mastodon_sidekiq_busy_workers
    help: Sidekiq threads running a job.

  # --- Sidekiq jobs: sidekiq.<Worker>.<processing_time|success|failure> ---------------------------
  # A worker is one field (LinkCrawlWorker), two (ActivityPub.DeliveryWorker) or three with an
  # empty middle (ActivityPub..DeliveryWorker); the label is written with "::" as in Ruby.
  - match: Mastodon.production.sidekiq.*.processing_time
    name: mastodon_sidekiq_job_duration_seconds
    help: Time Sidekiq spent running a job, by worker class.
    histogram_options:
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    labels: {worker: "$1"}
  - match: Mastodon.production.sidekiq.*.*.processing_time
    name: mastodon_sidekiq_job_duration_seconds
    help: Time Sidekiq spent running a job, by worker class.
    histogram_options:
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    labels: {worker: "${1}::${2}"}
  - match: Mastodon.production.sidekiq.*.*.*.processing_time
    name: mastodon_sidekiq_job_duration_seconds
    help: Time Sidekiq spent running a job, by worker class.
    histogram_options:
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]
    labels: {worker: "${1}::${3}"}
  - match: Mastodon.production.sidekiq.*.success
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "$1", outcome: success}
  - match: Mastodon.production.sidekiq.*.*.success
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "${1}::${2}", outcome: success}
  - match: Mastodon.production.sidekiq.*.*.*.success
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "${1}::${3}", outcome: success}
  - match: Mastodon.production.sidekiq.*.failure
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "$1", outcome: failure}
  - match: Mastodon.production.sidekiq.*.*.failure
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "${1}::${2}", outcome: failure}
  - match: Mastodon.production.sidekiq.*.*.*.failure
    name: mastodon_sidekiq_jobs_total
    help: Sidekiq jobs finished, by worker class and outcome.
    labels: {worker: "${1}::${3}", outcome: failure}

"""#
}
