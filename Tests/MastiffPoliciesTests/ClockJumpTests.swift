import MastiffCore
import MastiffPolicies
import Testing

/// The wall clock set back an hour (an NTP step, a wrong RTC fixed by hand, a VM restored from
/// a snapshot) while mastiff runs. Schedules, silences, maintenance, restart budgets and
/// notification intervals are computed from the wall clock; each policy takes it as an argument,
/// so the jump is a time moved back. What must hold: nothing already done is done again, nothing
/// a person set ends early, and no budget refills.
@Suite struct ClockJumpTests {
    static let hour = 3600.0

    @Test func aScheduledSlotAlreadyRunIsNotRunAgainWhenTheClockGoesBack() throws {
        let schedule = WorkSchedule(name: "backup", cron: try CronSchedule("0 3 * * *", utc: true), jitter: .zero)
        let slot = 1_796_439_600.0  // 2026-12-05 03:00 UTC
        let ranAt = slot + 5
        // After the run, an hour back: the next run is tomorrow's slot, not today's again.
        #expect(schedule.nextRun(lastRun: ranAt, now: ranAt + 60 - Self.hour, atStart: false) == slot + 86400)
        // The same when mastiff starts during the hour that repeats (a restart after the jump).
        #expect(schedule.nextRun(lastRun: ranAt, now: ranAt + 60 - Self.hour, atStart: true) == slot + 86400)
        // And the slot is the one already done: a cluster peer's "done in this slot" check agrees.
        #expect(schedule.slot(containing: ranAt) == slot)
    }

    @Test func aSilenceAndMaintenanceDoNotEndEarlyWhenTheClockGoesBack() {
        var policy = NotificationPolicyTests.policy()
        _ = policy.addSilence(matchers: [RouteMatcher(name: "alertname", value: "Noisy", regex: false)], startsAt: 10_000, endsAt: 10_000 + 2 * Self.hour, comment: "deploy")
        policy.startMaintenance(until: 10_000 + 2 * Self.hour, reason: "upgrade")
        let back = 10_000 + 1800 - Self.hour
        #expect(policy.activeSilences(at: 10_000 + 1800).count == 1)
        // Before its start: Alertmanager's rule too (a silence is active from startsAt to endsAt);
        // what matters is that it has not expired and comes back as the clock catches up.
        #expect(policy.activeSilences(at: back + Self.hour).count == 1)
        #expect(policy.maintenance(at: back).active, "maintenance set until a time still ahead stays on")
    }

    @Test func theRestartBudgetDoesNotRefillWhenTheClockGoesBack() {
        var target = RestartTargetSpec(name: "sidekiq", group: "sidekiq", method: .signal(name: "TERM", number: 15))
        target.budget = 2
        var policy = RestartPolicy(targets: [target], startedAt: 0)
        let now = 1_000_000.0
        policy.restore(.object(["sidekiq": .object(["restarts": .array([.number(now - 600), .number(now - 60)]), "halted": .bool(false)])]))
        #expect(policy.budgetRemaining("sidekiq", now: now) == 0)
        // Restarts "in the future" of the moved clock still count against the window.
        #expect(policy.budgetRemaining("sidekiq", now: now - Self.hour) == 0)
    }

    @Test func aFiringAlertIsNotNotifiedAgainWhenTheClockGoesBack() {
        var policy = NotificationPolicyTests.policy()
        let alert = NotificationPolicyTests.alert("DiskNearlyFull")
        let first = NotificationPolicyTests.run(&policy, [alert], from: 1000, to: 1100)
        #expect(first.count == 1)
        // An hour back, then ten minutes of the same firing alert: no second notification
        // (repeat_interval is an hour, counted from the first, which now lies in the future).
        let after = NotificationPolicyTests.run(&policy, [alert], from: 1100 - Self.hour, to: 1100 - Self.hour + 600)
        #expect(after.isEmpty)
    }
}
