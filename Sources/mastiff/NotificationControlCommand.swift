#if canImport(Glibc)
import Glibc
#endif
import MastiffAgent
import MastiffCore

/// `mastiff maintenance on|off|status` and `mastiff silence add|list|expire`.
struct NotificationControlCommand {
    let socketPath: String
    let arguments: CommandLineArguments

    func run() -> Int32 {
        var request: [String: JSONValue] = ["action": .string(arguments.subcommand ?? "status")]
        if let text = arguments.duration {
            guard let duration = DurationParser.parse(text) else {
                StderrLogHandler.writeToStderr("mastiff: --for '\(text.escapingControlCharacters)' is not a duration (examples: 30m, 2h, 1h30m, 1d)\n")
                return 2
            }
            guard duration > .zero else {
                StderrLogHandler.writeToStderr("mastiff: --for \(text) holds for no time: give a duration above 0, e.g. --for 30m\n")
                return 2
            }
            request["seconds"] = .number(duration.seconds)
        }
        if let reason = arguments.reason { request[arguments.command == .silence ? "comment" : "reason"] = .string(reason) }
        switch arguments.command {
        case .maintenance:
            request["command"] = .string("maintenance")
        default:
            request["command"] = .string("silence")
            if arguments.subcommand == "add" { request["matchers"] = .array(arguments.files.map { .string($0) }) }
            if arguments.subcommand == "expire" { request["id"] = .string(arguments.files.first ?? "") }
        }
        guard let answer = AgentRequest.send(request, socket: socketPath) else { return 1 }
        // The agent took the change but could not save it: it holds only until a restart.
        let unsaved = answer["persisted"] == .bool(false)
        if unsaved { StderrLogHandler.writeToStderr("mastiff: warning: \((answer["warning"]?.string ?? "the change could not be saved").escapingControlCharacters)\n") }
        if arguments.json {
            print(answer.serialized(indent: true))
            return unsaved ? 1 : 0
        }
        let now = answer["now"]?.double ?? 0
        if arguments.command == .maintenance {
            if answer["active"] == .bool(true) {
                let until = answer["until"]?.double.map { " until \(NotificationTime.format($0))" } ?? ""
                print("maintenance: on\(until) (\((answer["reason"]?.string ?? "").escapingControlCharacters)): notifications are held")
            } else {
                print("maintenance: off")
            }
        } else if let silence = answer["silence"] {
            print("silence \((silence["id"]?.string ?? "?").escapingControlCharacters) added until \(NotificationTime.format(silence["ends_at"]?.double ?? 0))")
        } else if let list = answer["silences"]?.array {
            if list.isEmpty { print("no active silences") }
            for silence in list {
                let matchers = (silence["matchers"]?.array ?? []).compactMap(\.string).joined(separator: " ")
                print(("\(silence["id"]?.string ?? "?")  \(matchers)  ends in \(StatusCommand.duration((silence["ends_at"]?.double ?? now) - now))  "
                       + (silence["comment"]?.string ?? "")).escapingControlCharacters)
            }
        } else {
            print("ok")
        }
        return unsaved ? 1 : 0
    }
}

enum NotificationTime {
    /// `2026-12-03 22:52`, host time.
    static func format(_ seconds: Double) -> String {
        let time = CalendarTime.local(seconds)
        return time.date + " " + String(time.clock.prefix(5))
    }
}
