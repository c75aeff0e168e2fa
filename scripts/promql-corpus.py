#!/usr/bin/env python3
"""Writes alerts/tests/promql.yml: a promql_expr_test corpus touching every operator and
function of mastiff's PromQL subset, with the expected values taken from Debian's promtool
(the reference engine). Run it after changing the list below; CI then runs the written file
through both `promtool test rules` and `mastiff rules test`, and both must pass.

Inputs are 1m apart and evaluations sit at 10m30s, off every window boundary, so promtool 2.42's
closed windows and Prometheus 3's left-open ones (mastiff's) select the same samples.

    python3 scripts/promql-corpus.py            # rewrite alerts/tests/promql.yml
    python3 scripts/promql-corpus.py --check    # exit 1 if the checked-in file is not what
                                                # this script and promtool produce
"""
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUTPUT = os.path.join(ROOT, "alerts", "tests", "promql.yml")

INPUT = [
    ('c_total{job="a",instance="x"}', "0+10x20"),
    ('c_total{job="b",instance="y"}', "0+5x5 2+5x14"),
    ('g{instance="x",role="web"}', "1 3 2 5 4 6 3 8 7 9 5 4 6"),
    ('g{instance="y",role="worker"}', "10-1x12"),
    ('m{instance="x"}', "2x12"),
    ('m{instance="y"}', "4x12"),
    ('info{instance="x",version="4.3"}', "1x12"),
    ('info{instance="y",version="4.2"}', "1x12"),
    ('h_bucket{le="0.1"}', "0+1x12"),
    ('h_bucket{le="0.5"}', "0+3x12"),
    ('h_bucket{le="1"}', "0+4x12"),
    ('h_bucket{le="+Inf"}', "0+5x12"),
    ('neg', "-3.5x12"),
    ('gone', "1 1 1 stale"),
    ('flappy', "1 2 1 2 2 2 3 1 1 1 4 4 4"),
    # Angles and ratios for the trigonometric functions: small, near the reduction's octant
    # edges, negative, and huge (Payne-Hanek reduction above 2^29).
    ('angle{a="small"}', "0.6x12"), ('angle{a="edge"}', "0.7853981633974483x12"), ('angle{a="negative"}', "-2.5x12"),
    ('angle{a="large"}', "123456.789x12"), ('angle{a="huge"}', "1e+22x12"),
    ('ratio{r="low"}', "-0.99x12"), ('ratio{r="mid"}', "0.3x12"), ('ratio{r="high"}', "0.75x12"),
]

T = "10m30s"
EXPRESSIONS = [
    # Literals and selectors.
    ("1.5", T), ('"text" and vector(1)', None), ("c_total", T), ('c_total{job="a"}', T), ('c_total{job!="a"}', T),
    ('c_total{job=~"a|b"}', T), ('c_total{job!~"b"}', T), ('g{role=~"w.*"}', T), ("c_total offset 2m", T),
    ("gone", "2m30s"), ("gone", "4m30s"), ("absent(gone)", "4m30s"),
    # Arithmetic, with vector matching.
    ("g + 1", T), ("g - ignoring(role) m", T), ("g * on(instance) m", T), ("g / ignoring(role) m", T), ("g % 3", T),
    ("2 ^ g", T), ("g ^ 2", T), ("-g", T), ("-2 ^ 2", T), ("(g + 1) / 0", T), ("-(g + 1) / 0", T), ("1 + 2 * 3 - 4 / 2", T),
    ("m * on(instance) group_left(version) info", T), ("info + on(instance) group_right(version) m", T),
    ("m * ignoring(version) group_left info", T),
    # Comparisons.
    ("g > 4", T), ("g > bool 4", T), ("4 < g", T), ("g == 6", T), ("g != 6", T), ("g >= 5", T), ("g <= 5", T),
    ("1 > bool 2", T), ("2 >= bool 2", T), ("g > ignoring(role) m", T), ("g > bool on(instance) m", T),
    # Set operators.
    ("g and on(instance) m", T), ("g and m", T), ("g or m", T), ("g or on(instance) m", T), ("c_total unless on(instance) (m > 3)", T),
    ("g and ignoring(role) (m > 3)", T),
    # Aggregations.
    ("sum(c_total)", T), ("sum by (job) (c_total)", T), ("sum without (instance) (c_total)", T), ("min(g)", T), ("max(g)", T),
    ("avg(g)", T), ("count(g)", T), ("stddev(g)", T), ("stdvar(g)", T), ("topk(1, g)", T), ("bottomk(1, g)", T),
    ("topk by (role) (1, g)", T), ("quantile(0.5, g)", T), ("quantile(0.9, c_total)", T), ('count_values("value", m)', T),
    ("sum(m) by (instance)", T), ("max by (instance) (g)", T),
    # Functions over ranges.
    ("rate(c_total[5m])", T), ("irate(c_total[5m])", T), ("increase(c_total[10m])", T), ("delta(g[5m])", T), ("idelta(g[5m])", T),
    ("deriv(g[5m])", T), ("predict_linear(g[5m], 600)", T), ("changes(flappy[10m])", T), ("resets(c_total[10m])", T),
    ("avg_over_time(g[5m])", T), ("min_over_time(g[5m])", T), ("max_over_time(g[5m])", T), ("sum_over_time(g[5m])", T),
    ("count_over_time(g[5m])", T), ("last_over_time(g[5m])", T), ("quantile_over_time(0.5, g[5m])", T),
    ("stddev_over_time(g[5m])", T), ("stdvar_over_time(g[5m])", T), ("present_over_time(g[5m])", T),
    ("absent_over_time(nothing[5m])", T), ('absent_over_time(g{instance="x"}[5m])', T), ("rate(c_total[5m] offset 3m)", T),
    ("increase(c_total[3m])", T),
    # Other functions.
    ('absent(nothing{job="j"})', T), ('absent(nothing{job="a",job=~"b",env="p"})', T), ('absent(nothing{job=~"b",job="a"})', T), ('absent(nothing{job="a",job="a"})', T), ("absent(g)", T), ("time()", T), ("timestamp(c_total)", T), ("vector(7)", T),
    ("scalar(sum(m))", T), ("vector(scalar(m{instance=\"x\"}))", T), ("abs(neg)", T), ("ceil(neg)", T), ("floor(neg)", T), ("round(neg)", T),
    ("round(g / 3, 0.5)", T), ("clamp(g, 4, 6)", T), ("clamp_min(g, 5)", T), ("clamp_max(g, 5)", T), ("ln(m)", T),
    ("log2(m)", T), ("log10(m * 25)", T), ("exp(m)", T), ("sqrt(m)", T), ("sgn(neg)", T), ("sgn(g - 3)", T),
    ("histogram_quantile(0.9, rate(h_bucket[5m]))", T), ("histogram_quantile(0.5, h_bucket)", T),
    ('label_replace(g, "host", "$1:80", "instance", "(.*)")', T), ('label_replace(g, "role", "", "role", "web")', T),
    ('label_replace(g, "x", "$1", "instance", "z(.*)")', T), ('label_join(g, "id", "/", "instance", "role")', T),
    ("sort(g)", T), ("sort_desc(g)", T),
    # Trigonometry, hyperbolic functions and the exponential family: Go's algorithms, equal to
    # the last bit (GoMath.swift). atan2 is tested on nameless operands: promtool 2.42 keeps the
    # left-hand metric name, which Prometheus 2.47 and later drop (EvaluatorTests covers that).
    ("sin(angle)", T), ("cos(angle)", T), ("tan(angle)", T), ("atan(angle)", T), ("sinh(angle{a!=\"huge\"})", T),
    ("cosh(angle{a!=\"huge\"})", T), ("tanh(angle)", T), ("asinh(angle)", T), ("acosh(angle{a!=\"negative\"} + 2)", T),
    ("asin(ratio)", T), ("acos(ratio)", T), ("atanh(ratio)", T), ("deg(angle)", T), ("rad(angle)", T), ("pi()", T),
    ("exp(angle{a!~\"large|huge\"})", T), ("ln(abs(angle))", T), ("log2(abs(angle))", T), ("log10(abs(angle))", T),
    ("angle{a=\"small\"} ^ 1.7", T), ("1.5 ^ ratio", T), ("abs(angle) ^ 0.25", T),
    ("(angle * 1) atan2 2", T), ("-3 atan2 (angle * 1)", T), ("vector(1) atan2 vector(-2)", T), ("0 atan2 -1", T),
    # Calendar fields (UTC) of the evaluation time and of values.
    ("hour()", T), ("minute()", T), ("day_of_week()", T), ("day_of_month()", T), ("day_of_year()", T), ("days_in_month()", T),
    ("month()", T), ("year()", T), ("hour(g * 3600 + 1800)", T), ("day_of_week(g * 86400)", T), ("day_of_year(g * 40 * 86400)", T),
    ("days_in_month(g * 31 * 86400)", T), ("month(g * 31 * 86400)", T), ("year(g * 400 * 86400)", T), ("minute(neg * 60)", T),
    # Go's regexp syntax and semantics (RE2): non-capturing groups, flags, Perl classes, Unicode
    # classes, lazy repetition, leftmost-first alternation, anchoring around an alternation.
    ('c_total{job=~"(?:a)"}', T), ('g{role!~"(?i)WEB"}', T), ('g{role=~"\\\\w+er"}', T), ('g{instance=~"\\\\pL"}', T),
    ('g{role=~"w|web"}', T), ('label_replace(g, "r", "$1", "role", "(?i)(W)EB")', T), ('label_replace(g, "x", "$1", "role", "(w|wo).*")', T),
    ('label_replace(g, "x", "$1", "role", "(.+?)r*")', T), ('label_replace(g, "x", "${1}_$2", "instance", "(x)?(.*)")', T),
    # Subqueries (steps aligned to the epoch, a default step of the evaluation interval) and @. A
    # step of 47 s keeps inner windows off the 1m samples, where promtool 2.42 (closed windows)
    # and Prometheus 3 (left-open) differ; EvaluatorTests checks the boundary itself.
    ("max_over_time(rate(c_total[5m])[5m:47s])", T), ("max_over_time(g[5m:2m])", T), ("min_over_time(g[5m:])", T),
    ("predict_linear(g[5m:1m], 600)", T), ("rate(c_total[5m:1m])", T), ("last_over_time(g[3m:2m])", "10m"),
    ("avg_over_time((g * 2)[5m:47s])", T), ("max_over_time(sum by (role) (g)[5m:1m])", T), ("sum_over_time(g[4m:1m] offset 2m)", T),
    ("count_over_time(g[6m:3m] @ 570)", T), ("g @ 330", T), ("rate(c_total[5m] @ 630)", T), ("g @ end()", T), ("g @ start()", T),
    ("g offset 1m @ 450", T), ("c_total @ 330 offset 1m", T), ("max_over_time(g[10m:1m] @ 450)", T),
    # Selectors without a metric name.
    ('{__name__=~"g|m"}', T), ('count({instance="x"})', T), ('sum by (__name__) ({__name__=~"c_total|g"})', T),
    ('rate({__name__=~"c_total", job="a"}[5m])', T), ('{__name__=~"h_.+", le!~"0.*"}', T),
]


def promtool_results(entries):
    """Runs promtool with no expectations and reads the values it reports. promtool compares
    floats with ==, so an expression that returns NaN cannot be tested this way (and is not
    listed); mastiff's own unit tests cover NaN."""
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in INPUT],
        "promql_expr_test": [{"expr": e, "eval_time": t, "exp_samples": []} for e, t in entries],
    }]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump(test, handle)
        path = handle.name
    try:
        completed = subprocess.run(["promtool", "test", "rules", path], capture_output=True, text=True)
        output = completed.stdout + completed.stderr
    finally:
        os.unlink(path)
    results = {}
    current = None
    for line in output.splitlines():
        match = re.match(r'\s+expr: (".*"), time: (\S+),$', line)
        if match:
            current = (json.loads(match.group(1)), match.group(2))
            continue
        match = re.match(r"\s+got: (.*)$", line)
        if match and current:
            samples = re.findall(r'(\{[^}]*\}) (\S+?)(?:,|$)', match.group(1))
            results[current] = [(labels, float(value)) for labels, value in samples]
            current = None
    return results


def main():
    entries = [(e, t) for e, t in EXPRESSIONS if t]
    results = promtool_results(entries)
    lines = [
        "# Generated by scripts/promql-corpus.py from Debian's promtool: every operator and function of",
        "# mastiff's PromQL subset, with promtool's results. CI runs it through `promtool test rules` and",
        "# `mastiff rules test`; both must pass. Do not edit by hand: change the script and rerun it.",
        "rule_files: []",
        "evaluation_interval: 1m",
        "tests:",
        "  - interval: 1m",
        "    input_series:",
    ]
    for series, values in INPUT:
        lines.append(f"      - series: {json.dumps(series)}")
        lines.append(f"        values: {json.dumps(values)}")
    lines.append("    promql_expr_test:")
    for expr, time in entries:
        got = results.get((expr, time), [])
        lines.append(f"      - expr: {json.dumps(expr)}")
        lines.append(f"        eval_time: {time}")
        if not got:
            lines.append("        exp_samples: []")
            continue
        lines.append("        exp_samples:")
        for labels, value in got:
            text = ".inf" if value == float("inf") else "-.inf" if value == float("-inf") else ".nan" if value != value else repr(value)
            lines.append(f"          - labels: {json.dumps(labels)}")
            lines.append(f"            value: {text}")
    text = "\n".join(lines) + "\n"
    if "--check" in sys.argv:
        with open(OUTPUT) as handle:
            current = handle.read()
        if current != text:
            print("alerts/tests/promql.yml is not what scripts/promql-corpus.py writes: rerun it")
            return 1
        print("alerts/tests/promql.yml matches promtool's results")
        return 0
    with open(OUTPUT, "w") as handle:
        handle.write(text)
    check = subprocess.run(["promtool", "test", "rules", OUTPUT], capture_output=True, text=True)
    print((check.stdout + check.stderr).strip())
    return check.returncode


if __name__ == "__main__":
    sys.exit(main())
