import MastiffCollectors
import MastiffCore
import Testing

/// When a Sidekiq process counts as stalled, and which queues count as served.
@Suite struct SidekiqStallTests {
    static let now = 1_800_000_000.0

    static func process(beat: Double = now - 5, quiet: Bool = false, newestJob: Double?, queues: [String] = ["default", "push"]) -> SidekiqParsing.Process {
        var process = SidekiqParsing.Process(identity: "app1:4242:abcdef", hostname: "app1", busy: 5, concurrency: 5, quiet: quiet, rssBytes: 0,
                                             beat: beat, pid: 4242, queues: queues)
        process.newestJobStart = newestJob
        process.runningJobs = newestJob == nil ? 0 : 5
        return process
    }

    @Test func aliveBusyOnOldJobsWhileItsQueueWaitsIsStalled() {
        let latency = ["default": 900.0, "push": 2]
        #expect(Self.process(newestJob: Self.now - 700).isStalled(now: Self.now, stallAfter: 600, queueLatency: latency))
        #expect(Self.process(newestJob: nil).isStalled(now: Self.now, stallAfter: 600, queueLatency: latency), "idle threads that fetch nothing")
    }

    @Test func recentWorkQuietOrDeadProcessesAndShortQueuesAreNotStalled() {
        let waiting = ["default": 900.0]
        #expect(!Self.process(newestJob: Self.now - 30).isStalled(now: Self.now, stallAfter: 600, queueLatency: waiting), "it started a job 30 s ago")
        #expect(!Self.process(quiet: true, newestJob: nil).isStalled(now: Self.now, stallAfter: 600, queueLatency: waiting), "quiet on purpose")
        #expect(!Self.process(beat: Self.now - 120, newestJob: nil).isStalled(now: Self.now, stallAfter: 600, queueLatency: waiting),
                "no heartbeat: SidekiqDown's case, not this one")
        #expect(!Self.process(newestJob: Self.now - 700).isStalled(now: Self.now, stallAfter: 600, queueLatency: ["default": 30]),
                "its queues do not wait")
        #expect(!Self.process(newestJob: nil, queues: ["pull"]).isStalled(now: Self.now, stallAfter: 600, queueLatency: waiting),
                "the waiting queue is not one it serves")
    }

    @Test func queuesAreCountedOncePerLiveProcess() throws {
        var data = SidekiqData()
        data.queues = [.init(name: "default", size: 3, latency: 1), .init(name: "ingress", size: 40, latency: 900)]
        data.processes = [Self.process(newestJob: Self.now - 5), Self.process(quiet: true, newestJob: nil, queues: ["ingress"]),
                          Self.process(beat: Self.now - 300, newestJob: nil, queues: ["ingress"])]
        let sink = MetricSink()
        SidekiqMetrics.emit(data, now: Self.now, stallAfter: 600, into: sink)
        let served = try #require(sink.families.first { $0.name == "sidekiq_queue_processes" })
        let values = Dictionary(uniqueKeysWithValues: served.samples.map { ($0.labels.first!.value, $0.value) })
        #expect(values == ["default": 1, "push": 1, "ingress": 0], "a quiet process and one without a heartbeat serve nothing")
    }

    @Test func sidekiq6RepeatsAWeightedQueueOnce() {
        let info = #"{"hostname":"app1","pid":7,"tag":"live","concurrency":5,"queues":["default","default","push"]}"#
        let process = SidekiqParsing.process(identity: "app1:7:aa", fields: [info, "0", "1800000000.0", "false", "1000", nil])
        #expect(process?.queues == ["default", "push"])
        #expect(process?.tag == "live")
    }
}
