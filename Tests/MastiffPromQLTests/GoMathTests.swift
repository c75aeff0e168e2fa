import Glibc
import MastiffCore
@testable import MastiffPromQL
import Testing

/// The trigonometric and exponential functions where promtool cannot check them: NaN, the
/// special cases Go's math package lists, atan2 dropping the metric name (Prometheus 2.47 and
/// later; promtool 2.42 keeps it), and both of Go's amd64 exp paths. Ordinary values are
/// checked to the last bit against promtool in alerts/tests/promql.yml.
@Suite struct GoMathTests {
    @Test func atan2DropsTheMetricNameAsPrometheus3Does() throws {
        let storage = EvaluatorTests.Storage()
        storage.add("y", labels: [Label("i", "1")], values: [10])
        storage.add("x", labels: [Label("i", "1")], values: [20])
        let result = try Evaluator(storage: storage, time: 30_000).evaluate(try PromQLParser.parse("y atan2 x"))
        guard case .vector(let samples) = result else {
            Issue.record("expected a vector, got \(result)")
            return
        }
        // prometheus/prometheus 531567d ("Drop metric name for atan2 binary operator"), and
        // promql/promqltest/testdata/operators.test: `trigy atan2 trigx` is `{} 0.4636476090008061`.
        #expect(samples.map(\.labels) == [[Label("i", "1")]])
        #expect(samples.map(\.value) == [0.4636476090008061])
    }

    @Test func atan2BindsLikeMultiplication() throws {
        let storage = EvaluatorTests.Storage()
        #expect(try EvaluatorTests.values(storage, "1 + 2 atan2 3", at: 0) == [1 + GoMath.atan2(2, 3)])
        #expect(try EvaluatorTests.values(storage, "2 * 3 atan2 4", at: 0) == [GoMath.atan2(6, 4)])
        #expect(try EvaluatorTests.values(storage, "2 ^ 3 atan2 4", at: 0) == [GoMath.atan2(8, 4)])
    }

    /// Go's math.Atan2 special cases, in its documented order.
    @Test func atan2SpecialCases() {
        let pi = Double.pi
        let cases: [(Double, Double, Double)] = [
            (0, 1, 0), (-0.0, 1, -0.0), (0, -1, pi), (-0.0, -1, -pi), (0, -0.0, pi), (1, 0, pi / 2), (-1, 0, -pi / 2),
            (.infinity, .infinity, pi / 4), (-.infinity, .infinity, -pi / 4), (.infinity, -.infinity, 3 * pi / 4),
            (-.infinity, -.infinity, -3 * pi / 4), (1, .infinity, 0), (1, -.infinity, pi), (-1, -.infinity, -pi),
            (.infinity, 1, pi / 2), (-.infinity, 1, -pi / 2),
        ]
        for (y, x, expected) in cases {
            let got = GoMath.atan2(y, x)
            #expect(got == expected && got.sign == expected.sign, "atan2(\(y), \(x)) = \(got), expected \(expected)")
        }
        #expect(GoMath.atan2(.nan, 1).isNaN && GoMath.atan2(1, .nan).isNaN)
    }

    @Test func domainsAndSpecialValues() {
        #expect(GoMath.sin(-0.0).sign == .minus && GoMath.tan(-0.0).sign == .minus && GoMath.atan(-0.0).sign == .minus)
        #expect(GoMath.sin(.infinity).isNaN && GoMath.cos(-.infinity).isNaN && GoMath.tan(.nan).isNaN)
        #expect(GoMath.asin(1.5).isNaN && GoMath.acos(-1.5).isNaN && GoMath.acosh(0.5).isNaN && GoMath.atanh(2).isNaN)
        #expect(GoMath.atanh(1) == .infinity && GoMath.atanh(-1) == -.infinity && GoMath.acosh(1) == 0)
        #expect(GoMath.tanh(1000) == 1 && GoMath.tanh(-1000) == -1 && GoMath.sinh(-.infinity) == -.infinity)
        #expect(GoMath.exp(-.infinity) == 0 && GoMath.exp(710) == .infinity && GoMath.exp(-800) == 0 && GoMath.exp(.nan).isNaN)
        #expect(GoMath.log(0) == -.infinity && GoMath.log(-1).isNaN && GoMath.log(.infinity) == .infinity)
        #expect(GoMath.log2(8) == 3 && GoMath.log2(0.25) == -2)
        #expect(GoMath.pow(-8, 1.0 / 3).isNaN && GoMath.pow(0, -3) == .infinity && GoMath.pow(-0.0, -3) == -.infinity)
        #expect(GoMath.pow(-1, .infinity) == 1 && GoMath.pow(2, 1e300) == .infinity && GoMath.pow(0.5, 1e300) == 0)
    }

    /// Payne–Hanek takes over from 2²⁹: both reductions stay within an ulp of the true value on
    /// either side, and a huge argument gives Go's value (sin(10²²) = -0.852200849767188801772…).
    @Test func hugeArgumentsAreReducedExactly() {
        #expect(GoMath.sin(1e22) == -0.8522008497671889)
        for x in [Double(1 << 29).nextDown, Double(1 << 29), 1e15, 1e300] {
            #expect(Swift.abs(GoMath.sin(x) - Glibc.sin(x)) <= Glibc.sin(x).ulp, "sin(\(x))")
            #expect(Swift.abs(GoMath.cos(x) - Glibc.cos(x)) <= Glibc.cos(x).ulp, "cos(\(x))")
        }
        #expect(GoMath.cos(1e300).isFinite && Swift.abs(GoMath.cos(1e300)) <= 1)
    }

    /// Go's amd64 Exp has a fused multiply-add path (CPUs with AVX and FMA) and a plain one; they
    /// may differ in the last bit, never more.
    @Test func bothExpPathsAreWithinOneUlp() {
        for x in stride(from: -700.0, through: 700, by: 0.73) {
            let fused = GoMath.exp(x, fused: true), plain = GoMath.exp(x, fused: false)
            #expect(fused == plain || fused.nextUp == plain || fused.nextDown == plain, "exp(\(x)): \(fused) vs \(plain)")
            #expect(Swift.abs(fused - Glibc.exp(x)) <= Glibc.exp(x).ulp, "exp(\(x)) is within an ulp of glibc's")
        }
    }
}
