import MastiffAgent
import MastiffCore

/// One request to the running agent over its control socket, as every CLI command that asks it
/// makes it: a failure to reach the agent or an answer with `"ok": false` is printed and gives
/// nil (the command then exits 1).
enum AgentRequest {
    /// `refusal` prefixes the agent's error text.
    static func send(_ request: [String: JSONValue], socket: String, refusal: String = "") -> JSONValue? {
        let answer: JSONValue
        do {
            answer = try ControlClient.request(.object(request), socket: socket)
        } catch {
            StderrLogHandler.writeToStderr("mastiff: \(error)\n")
            return nil
        }
        guard answer["ok"] != .bool(false) else {
            StderrLogHandler.writeToStderr("mastiff: \(refusal)\(answer["error"]?.string ?? (refusal.isEmpty ? "the agent refused" : "unknown error"))\n")
            return nil
        }
        return answer
    }
}
