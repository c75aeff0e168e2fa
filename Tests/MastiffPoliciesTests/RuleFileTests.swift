import MastiffCore
import MastiffPolicies
import Testing

/// Strict loading: every problem at its file:line:column, naming the construct.
@Suite struct RuleFileTests {
    static func error(_ text: String) -> String {
        do {
            _ = try RuleFileLoader.load(text: text, file: "r.yml")
            return "loaded"
        } catch {
            return "\(error)"
        }
    }

    @Test func problemsAreLocated() {
        let cases: [(String, String)] = [
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        fore: 5m\n",
             "r.yml:6:9: groups[0].rules[0].fore: unknown key 'fore'"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: 'rate(up[5m]) > {job=~\".*\"}'\n",
             "r.yml:5:31: groups[0].rules[0].expr: vector selector must contain at least one non-empty matcher"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: |\n          sum(up)\n            / mad_over_time(up[5m])\n",
             "r.yml:7:15: groups[0].rules[0].expr: function 'mad_over_time' is outside mastiff's PromQL subset"),
            ("groups:\n  - name: g\n    rules:\n      - record: a-b\n        expr: up\n",
             "r.yml:4:17: groups[0].rules[0].record: invalid recording rule name 'a-b'"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ nosuch $value }}'\n",
             "r.yml:7:20: groups[0].rules[0].annotations.summary: template: function \"nosuch\" not defined"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ if $value }}open'\n",
             "r.yml:7:20: groups[0].rules[0].annotations.summary: template: missing {{end}} for this {{if}}"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up[5m]\n",
             "r.yml:5:15: groups[0].rules[0].expr: the expression must be an instant vector or a scalar, not matrix"),
            ("groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n        annotations:\n          summary: '{{ query (printf \"%s\" \"up\") }}'\n",
             "r.yml:7:20: groups[0].rules[0].annotations.summary: template: query takes a literal string"),
        ]
        for (text, expected) in cases {
            let message = Self.error(text)
            #expect(message.hasPrefix(expected), "got: \(message)")
        }
    }
}
