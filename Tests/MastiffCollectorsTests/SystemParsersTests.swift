import MastiffCollectors
import Testing

@Suite struct SystemParsersTests {
    @Test func meminfoConvertsKilobytes() {
        let parsed = SystemParsers.meminfo("MemTotal:       24589532 kB\nMemAvailable:   20000000 kB\nHugePages_Total:       0\ngarbage line\n")
        #expect(parsed["MemTotal"] == 25_179_680_768.0)
        #expect(parsed["MemAvailable"] == 20_480_000_000.0)
        #expect(parsed["HugePages_Total"] == 0)
        #expect(parsed.count == 3)
    }

    @Test func pressureSomeAndFull() {
        let parsed = SystemParsers.pressure("some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.10 avg60=0.00 avg300=0.00 total=789\n")
        #expect(parsed == [
            .init(kind: "some", avg10: 1.5, avg60: 0.25, avg300: 0, totalMicroseconds: 123_456),
            .init(kind: "full", avg10: 0.1, avg60: 0, avg300: 0, totalMicroseconds: 789),
        ])
        // CPU pressure has only "some" on kernels before 5.13.
        #expect(SystemParsers.pressure("some avg10=0.00 avg60=0.00 avg300=0.00 total=5\n").count == 1)
        #expect(SystemParsers.pressure("some avg10=x avg60=0.00 avg300=0.00 total=5\n").isEmpty)
    }

    @Test func fileNrLoadavgBootTimeVmstat() {
        #expect(SystemParsers.fileNr("2400\t0\t9223372036854775807\n")! == (2400, 9.223372036854775807e18))
        #expect(SystemParsers.fileNr("2400") == nil)
        #expect(SystemParsers.loadavg("0.52 0.58 0.59 2/443 12345\n")! == (0.52, 0.58, 0.59))
        #expect(SystemParsers.loadavg("") == nil)
        #expect(SystemParsers.bootTime("cpu  1 2 3\nbtime 1764000000\nprocesses 5\n") == 1_764_000_000)
        #expect(SystemParsers.bootTime("cpu 1 2 3\n") == nil)
        #expect(SystemParsers.vmstat("nr_free_pages 100\noom_kill 3\nbad\n") == ["nr_free_pages": 100, "oom_kill": 3])
    }
}
