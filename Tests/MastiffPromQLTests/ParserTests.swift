import MastiffPromQL
import Testing

@Suite struct ParserTests {
    @Test func parsesTheSubset() throws {
        for text in ["up", "rate(x_total[5m])", "sum by (job) (rate(x[5m])) > 0", "a / on(instance) group_left(name) b",
                     "-2^2", "topk(3, x)", "x offset 5m", "x[5m] offset 1m", "histogram_quantile(0.9, sum by (le) (rate(h_bucket[5m])))",
                     "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")", "1 > bool 2", "absent(up{job=\"x\"})",
                     "count_values(\"v\", x)", "x and ignoring(a) y", "sum(x) without (a)", "1e3 + 0x10 + .5 + Inf"] {
            _ = try PromQLParser.parse(text)
        }
    }

    @Test func refusesOutsideTheSubsetWithPosition() {
        for (text, offset, fragment) in [("holt_winters(x[5m], 0.5, 0.5)", 0, "holt_winters"), ("rate(x[5m:1m])", 6, "subqueries"),
                                         ("x @ 100", 2, "@ modifier"), ("sum(x", 5, "expected"), ("{a=\"b\"}", 0, "metric name"),
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
