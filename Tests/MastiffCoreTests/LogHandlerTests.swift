import Logging
import MastiffCore
import Synchronization
import Testing

private final class Captured: Sendable {
    let lines = Mutex<[String]>([])
    var all: [String] { lines.withLock { $0 } }
}

@Suite struct LogHandlerTests {
    @Test func journaldLinesHaveAPriorityAndNoTimestamp() {
        let captured = Captured()
        let handler = StderrLogHandler(label: "mastiff", level: .info, format: .text, underJournald: true,
                                       write: { line in captured.lines.withLock { $0.append(line) } })
        let logger = Logger(label: "mastiff", factory: { _ in handler })
        logger.warning("collector failed", metadata: ["collector.name": "system", "error": "it broke badly"])
        logger.debug("not shown")
        #expect(captured.all == ["<4>warning collector failed collector.name=system error=\"it broke badly\"\n"])
    }

    @Test func textLinesOutsideJournaldStartWithATimestamp() {
        let captured = Captured()
        let handler = StderrLogHandler(label: "mastiff", level: .info, format: .text, underJournald: false,
                                       write: { line in captured.lines.withLock { $0.append(line) } })
        Logger(label: "mastiff", factory: { _ in handler }).info("hello")
        let line = captured.all.first ?? ""
        #expect(line.hasSuffix("Z info hello\n"))
        #expect(line.count == "2026-11-25T23:59:00.000Z info hello\n".count)
    }

    @Test func jsonLinesEscape() {
        let captured = Captured()
        let handler = StderrLogHandler(label: "mastiff", level: .info, format: .json, underJournald: false,
                                       write: { line in captured.lines.withLock { $0.append(line) } })
        Logger(label: "mastiff", factory: { _ in handler }).error("bad \"quote\"\nline", metadata: ["k": "v\t"])
        let line = captured.all.first ?? ""
        #expect(line.contains(#""level":"error","logger":"mastiff","msg":"bad \"quote\"\nline","k":"v\t"}"#))
    }
}
