import MastiffCore
import MastiffPromQL
import Testing

/// Template output as measured with promtool 2.42 (../shared/notes/promql-parity.md §4.6), for
/// the value 1234567 and the labels {__name__="probe_value", instance="a:1", job="j"}.
@Suite struct TemplateTests {
    static func expand(_ text: String, value: Double = 1_234_567,
                       labels: Labels = [Label("__name__", "probe_value"), Label("instance", "a:1"), Label("job", "j")]) throws -> String {
        let template = try AlertTemplate(text)
        let context = TemplateContext(labels: labels, externalLabels: [Label("cluster", "eu")], value: value) { (_: Expr) throws(EvaluationError) -> [VectorSample] in
            [VectorSample(labels: [Label("group", "sidekiq")], value: 524_288_000, timestamp: 0),
             VectorSample(labels: [Label("group", "puma")], value: 314_572_800, timestamp: 0)]
        }
        return template.expand(context)
    }

    @Test func goFormatsNumbersAsPromtoolDoes() throws {
        #expect(try Self.expand("{{ $value }}") == "1.234567e+06")
        #expect(try Self.expand("{{ $value }}", value: 0.1 + 0.2) == "0.30000000000000004")
        #expect(try Self.expand("{{ $value }}", value: 123_456) == "123456")
        #expect(try Self.expand("{{ $value }}", value: 0.00001) == "1e-05")
        #expect(try Self.expand("{{ $value }}", value: .infinity) == "+Inf")
        #expect(try Self.expand("{{ $value }}", value: .nan) == "NaN")
        #expect(try Self.expand("{{ $labels }}") == "map[__name__:probe_value instance:a:1 job:j]")
        #expect(try Self.expand("{{ humanize $value }}") == "1.235M")
        #expect(try Self.expand("{{ $value | humanize1024 }}") == "1.177Mi")
        #expect(try Self.expand("{{ 3661 | humanizeDuration }}") == "1h 1m 1s")
        #expect(try Self.expand("{{ humanizeDuration 0 }}") == "0s")
        #expect(try Self.expand("{{ humanizeDuration 0.25 }}") == "250ms")
        #expect(try Self.expand("{{ 0.1234 | humanizePercentage }}") == "12.34%")
        #expect(try Self.expand("{{ printf \"%.0f\" $value }}") == "1234567")
        #expect(try Self.expand("{{ $labels.missing }}") == "")
        #expect(try Self.expand("{{ humanizeTimestamp 1435065584.128 }}") == "2015-06-23 13:19:44.128 +0000 UTC")
    }

    @Test func controlStructuresAndFunctions() throws {
        #expect(try Self.expand("{{ if gt $value 1000.0 }}big{{ else }}small{{ end }}") == "big")
        #expect(try Self.expand("{{ if eq $labels.job \"x\" }}x{{ else if eq $labels.job \"j\" }}j{{ end }}") == "j")
        #expect(try Self.expand("{{ with $labels.instance }}at {{ . }}{{ end }}") == "at a:1")
        #expect(try Self.expand("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}") == "__name__=probe_value;instance=a:1;job=j;")
        #expect(try Self.expand("{{ $labels.instance | stripPort | toUpper }}") == "A")
        #expect(try Self.expand("{{ title \"sidekiq queue\" }}") == "Sidekiq Queue")
        #expect(try Self.expand("{{ reReplaceAll \"(a+)\" \"<$1>\" \"caaab\" }}") == "c<aaa>b")
        #expect(try Self.expand("{{ $externalLabels.cluster }}") == "eu")
        #expect(try Self.expand("{{- \"  trim \" -}}  after") == "  trim after")
        #expect(try Self.expand("{{ range query \"x\" }}{{ .Labels.group }}:{{ .Value | humanize1024 }} {{ end }}") == "sidekiq:500Mi puma:300Mi ")
        #expect(try Self.expand("{{ with query \"x\" }}{{ . | first | label \"group\" }}{{ end }}") == "sidekiq")
        #expect(try Self.expand("{{ range query \"x\" | sortByLabel \"group\" }}{{ .Labels.group }} {{ end }}") == "puma sidekiq ")
        #expect(try Self.expand("{{ $x := 5 }}{{ $x }}") == "5")
        #expect(try Self.expand("{{ printf \"%s is %d%%\" \"load\" 5 }}") == "load is 5%")
    }

    @Test func runtimeErrorsBecomePrometheusErrorText() throws {
        #expect(try Self.expand("{{ first (query \"x\") | value | humanize }} {{ .Nope }}").hasPrefix("<error expanding template: "))
    }

    @Test func parseErrorsNameTheProblem() {
        for (text, fragment) in [("{{ if $value }}", "missing {{end}}"), ("{{ nosuch }}", "function \"nosuch\" not defined"),
                                 ("{{ end }}", "without a matching"), ("{{ $value ", "unclosed action"),
                                 ("{{ query (printf \"%s\" \"x\") }}", "literal string"), ("{{ query \"rate(x)\" }}", "in query")] {
            do {
                _ = try AlertTemplate(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.message.contains(fragment), "\(text): \(error.message)")
            }
        }
    }
}
