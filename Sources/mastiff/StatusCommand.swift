#if canImport(Glibc)
import Glibc
#endif
import MastiffAgent
import MastiffCore

/// `mastiff status`: what the running agent sees, as a compact table (colour on a terminal) or
/// as the agent's JSON with `--json`.
struct StatusCommand {
    let socketPath: String
    let json: Bool

    func run() -> Int32 {
        guard let answer = AgentRequest.send(["command": .string("status")], socket: socketPath, refusal: "the agent refused: ") else { return 1 }
        if json {
            print(answer.serialized(indent: true))
        } else {
            print(Self.table(answer, colour: Self.wantsColour()), terminator: "")
        }
        let failing = (answer["collectors"]?.array ?? []).contains { $0["ok"] == .bool(false) }
        return failing ? 3 : 0
    }

    static func wantsColour() -> Bool {
        guard isatty(STDOUT_FILENO) == 1, getenv("NO_COLOR") == nil else { return false }
        return FileSystemAccess.environment("TERM").map { $0 != "dumb" } ?? false
    }

    static func table(_ status: JSONValue, colour: Bool) -> String {
        func paint(_ text: String, _ code: String) -> String { colour ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text }
        let good = { (text: String) in paint(text, "32") }
        let bad = { (text: String) in paint(text, "31") }
        let now = status["now"]?.double ?? 0
        var lines: [String] = []
        let started = status["started_at"]?.double ?? now
        lines.append("mastiff \(status["version"]?.string ?? "?"), up \(duration(now - started)), config \(status["config"]?.string ?? "?")")
        if let sample = status["sample"] {
            let time = sample["time"]?.double ?? 0
            let interval = status["interval_seconds"]?.double.map { "every \(duration($0))" } ?? ""
            lines.append("last sample #\(Int(saturating: sample["sequence"]?.double ?? 0)) \(duration(now - time)) ago, took \(milliseconds(sample["duration_seconds"]?.double ?? 0)), \(interval)")
        } else {
            lines.append("no sample yet")
        }
        if let sources = status["sources"], case .object(let members) = sources, !members.isEmpty {
            lines.append("sources: " + members.keys.sorted().map { name in
                members[name] == .bool(true) ? "\(name) \(good("up"))" : "\(name) \(bad("down"))"
            }.joined(separator: ", "))
        }
        if let state = status["state"] {
            let health = state["health"]?.string ?? "?"
            lines.append("state: \(state["path"]?.string ?? "?") \(state["ok"] == .bool(true) ? good(health) : bad(health))")
        }
        // Scheduled work: backups, drills, jobs — when each ran, how it ended, when it runs next.
        for task in status["work"]?["tasks"]?.array ?? [] {
            let name = task["name"]?.string ?? "?"
            var parts: [String] = []
            if let last = task["last_run"]?.double {
                let ok = task["last_ok"] == .bool(true)
                parts.append("last \(duration(now - last)) ago " + (ok ? good("ok") : bad("failed")) + (ok ? "" : ": \(task["last_message"]?.string ?? "")"))
            } else {
                parts.append("not run yet")
            }
            if let next = task["next"]?.double { parts.append("next in \(duration(max(0, next - now)))") }
            lines.append("\(name): " + parts.joined(separator: ", "))
        }
        if status["reload"]?["successful"] == .bool(false) {
            lines.append(bad("the last configuration reload failed; the previous configuration is running"))
        }
        let collectors = status["collectors"]?.array ?? []
        if !collectors.isEmpty {
            lines.append("")
            let width = max(9, collectors.map { ($0["name"]?.string ?? "").count }.max() ?? 0)
            func padded(_ text: String, _ count: Int) -> String { text + String(repeating: " ", count: max(0, count - text.count)) }
            lines.append(padded("COLLECTOR", width) + "  STATUS  DURATION  DETAIL")
            for collector in collectors {
                let ok = collector["ok"] == .bool(true)
                let duration = milliseconds(collector["duration_seconds"]?.double ?? 0)
                lines.append(padded(collector["name"]?.string ?? "?", width) + "  " + (ok ? good("ok    ") : bad("failed"))
                             + "  " + String(repeating: " ", count: max(0, 8 - duration.count)) + duration
                             + "  " + (collector["detail"]?.string ?? ""))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(saturating: max(0, seconds).rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        if total < 86400 { return "\(total / 3600) h \(total % 3600 / 60) min" }
        return "\(total / 86400) d \(total % 86400 / 3600) h"
    }

    static func milliseconds(_ seconds: Double) -> String {
        seconds < 1 ? "\(Int(saturating: (seconds * 1000).rounded())) ms" : "\((seconds * 10).rounded() / 10) s"
    }
}
