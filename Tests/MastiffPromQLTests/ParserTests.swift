import MastiffPromQL
import Testing

@Suite struct ParserTests {
    @Test func parsesTheSubset() throws {
        for text in ["up", "rate(x_total[5m])", "sum by (job) (rate(x[5m])) > 0", "a / on(instance) group_left(name) b",
                     "-2^2", "topk(3, x)", "x offset 5m", "x[5m] offset 1m", "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
                     "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")", "1 > bool 2", "absent(up{job=\"x\"})",
                     "count_values(\"v\", x)", "x and ignoring(a) y", "sum(x) without (a)", "1e3 + 0x10 + .5 + Inf",
                     // Issue 24, item 3: subqueries and @, as Prometheus 3 writes them.
                     "rate(x[5m:1m])", "max_over_time(rate(x[5m])[1h:])", "x[1h: 5m]", "x @ 100", "x @ -1.5", "x @ start()",
                     "x[5m] @ end() offset 1m", "x offset 1m @ 100", "(x + 1)[10m:30s] offset 5m @ 1600000000",
                     "predict_linear(v[6h:5m], 4*24*3600)", "min_over_time(x[1h:] @ end())",
                     // Issue 24, item 1: selectors without a metric name.
                     "{job=\"a\"}", "rate({__name__=~\"x_total|y_total\"}[5m])", "count by (__name__) ({__name__=~\"node_.+\", instance!=\"\"})"] {
            _ = try PromQLParser.parse(text)
        }
    }

    @Test func refusesOutsideTheSubsetWithPosition() {
        for (text, offset, fragment) in [("holt_winters(x[5m], 0.5, 0.5)", 0, "holt_winters"), ("x[5m][1h:]", 5, "subquery is only allowed on instant vector, got matrix"),
                                         ("x @ 100 @ 200", 8, "may not be set multiple times"), ("sum(x) @ 100", 7, "@ modifier must be preceded"),
                                         ("x[1h:0s]", 1, "step must be greater than 0"), ("x @ foo()", 4, "expected number or start() or end()"),
                                         ("x offset 1m offset 2m", 12, "offset may not be set multiple times"),
                                         ("x[5m * 2]", 5, "duration arithmetic"),
                                         ("sum(x", 5, "expected"), ("{a=~\".*\"}", 0, "at least one non-empty matcher"),
                                         ("1 > 2", 2, "bool"), ("rate(x)", 0, "range vector")] {
            do {
                _ = try PromQLParser.parse(text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.offset == offset, "\(text): \(error)")
                #expect(error.message.contains(fragment), "\(text): \(error)")
            }
        }
    }
}
