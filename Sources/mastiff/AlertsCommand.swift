import MastiffAgent
import MastiffCore
import MastiffPromQL

/// `mastiff alerts list`: the running agent's pending and firing alerts.
struct AlertsCommand {
    let socketPath: String
    let json: Bool
    var subcommand = "list"
    var receiver: String?

    func run() -> Int32 {
        if subcommand == "test" { return test() }
        guard let answer = AgentRequest.send(["command": .string("alerts")], socket: socketPath, refusal: "the agent refused: ") else { return 1 }
        if json {
            print(answer.serialized(indent: true))
        } else {
            print(Self.table(answer), terminator: "")
        }
        return 0
    }

    private func test() -> Int32 {
        let answer: JSONValue
        do {
            answer = try ControlClient.request(.object(["command": .string("notify_test"), "receiver": .string(receiver ?? "")]), socket: socketPath)
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            return 1
        }
        if json {
            print(answer.serialized(indent: true))
        } else if answer["ok"] == .bool(true) {
            print("\(receiver ?? ""): delivered — \(answer["answer"]?.string ?? "")".escapingControlCharacters)
        } else {
            print("\(receiver ?? ""): \(answer["result"]?.string ?? "error") — \(answer["error"]?.string ?? "")".escapingControlCharacters)
        }
        return answer["ok"] == .bool(true) ? 0 : 1
    }

    static func table(_ answer: JSONValue) -> String {
        let now = answer["now"]?.double ?? 0
        let alerts = answer["alerts"]?.array ?? []
        guard !alerts.isEmpty else { return "no pending or firing alerts (\(Int(saturating: answer["rules"]?.double ?? 0)) rules loaded)\n" }
        var lines: [String] = []
        for alert in alerts {
            let state = alert["state"]?.string ?? "?"
            let since = alert["active_at"]?.double ?? now
            var labels: [String] = []
            if case .object(let members)? = alert["labels"] {
                labels = members.keys.sorted().filter { $0 != "alertname" }.map { "\($0)=\(members[$0]?.string ?? "")" }
            }
            let value = alert["value"]?.double.map { GoFloat.v($0) } ?? alert["value"]?.string ?? "?"
            lines.append("\(state.uppercased()) \(alert["labels"]?["alertname"]?.string ?? "?") {\(labels.joined(separator: ", "))} value \(value), active for \(StatusCommand.duration(now - since))")
            if case .object(let sent)? = alert["sent"], !sent.isEmpty {
                lines.append("    sent: " + sent.keys.sorted().map { "\($0) \(StatusCommand.duration(now - (sent[$0]?.double ?? now))) ago" }.joined(separator: ", "))
            }
            if case .object(let annotations)? = alert["annotations"] {
                for key in annotations.keys.sorted() {
                    lines.append("    \(key): \(annotations[key]?.string ?? "")")
                }
            }
        }
        // Labels and annotations come from data (a queue's name, a peer's answer): escape
        // what would otherwise act on the admin's terminal.
        return lines.map(\.escapingControlCharacters).joined(separator: "\n") + "\n"
    }
}
