#!/usr/bin/env python3
"""Checks mastiff's numeric PromQL functions against Debian's promtool bit for bit, on 300
arguments of every magnitude per function (a fixed seed: the same arguments each run). Exits 1
naming the first differences. Needs promtool and a built mastiff (MASTIFF_BINARY, else
.build/debug/mastiff). Integer exponents of `^` are left out: promtool's Go 1.19 lacks the fast
path of the Go that builds Prometheus 3 (docs/adr/0023-go-math-for-promql.md).

    python3 scripts/promql-go-math-oracle.py [SEED] [COUNT]
"""
import importlib.util
import json
import os
import random
import re
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("corpus", os.path.join(ROOT, "scripts", "promql-corpus.py"))
corpus = importlib.util.module_from_spec(spec)
spec.loader.exec_module(corpus)

EXPRESSIONS = ["sin(x)", "cos(x)", "tan(x)", "atan(x)", "sinh(x)", "cosh(x)", "tanh(x)", "asinh(x)", "acosh(x + 1)",
               "asin(u)", "acos(u)", "atanh(u)", "deg(x)", "rad(x)", "exp(x)", "ln(x)", "log2(x)", "log10(x)",
               "abs(x) ^ 1.7", "abs(x) ^ -0.37", "(x * 1) atan2 2", "-3 atan2 (x * 1)", "(x * 1) atan2 (-x)"]
T = "10m30s"


def main():
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 1
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    binary = os.environ.get("MASTIFF_BINARY", os.path.join(ROOT, ".build", "debug", "mastiff"))
    rng = random.Random(seed)
    values = [0.1, 0.5, 0.7, 0.75, 1, 1.5, 2, 3, 10, 100, 1e6, 1e9, 536870912.0, 1e12, 1e20, 1e300, -2.5, -0.3, 0.99,
              -0.99, 21.5, 0.6, 0.625, 44.0, 1e-9, 3e8, 0.7853981633974483]
    for _ in range(count):
        values.append(rng.uniform(-1, 1) * 10 ** rng.choice([-3, -1, 0, 0, 0, 1, 2, 6, 9, 15, 30]))
    corpus.INPUT = [(f'x{{i="{k}"}}', f"{v!r}x12") for k, v in enumerate(values)]
    corpus.INPUT += [(f'u{{i="{k}"}}', f"{v!r}x12") for k, v in enumerate(values) if -1 <= v <= 1]
    reference = corpus.promtool_results([(e, T) for e in EXPRESSIONS])
    test = {"rule_files": [], "evaluation_interval": "1m", "tests": [{
        "interval": "1m", "input_series": [{"series": s, "values": v} for s, v in corpus.INPUT],
        "promql_expr_test": [{"expr": e, "eval_time": T, "exp_samples": []} for e in EXPRESSIONS]}]}
    with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as handle:
        json.dump(test, handle)
        path = handle.name
    try:
        output = subprocess.run([binary, "rules", "test", path], capture_output=True, text=True)
    finally:
        os.unlink(path)
    ours, current = {}, None
    for line in (output.stdout + output.stderr).splitlines():
        match = re.match(r'\s+expr: (".*"), time: (\S+),?$', line)
        if match:
            current = json.loads(match.group(1))
            continue
        match = re.match(r"\s+got: (.*)$", line)
        if match and current:
            ours[current] = {labels: float(value) for labels, value in re.findall(r'\{(\{[^}]*\}) (\S+?)\}', match.group(1))}
            current = None
    bits = lambda value: struct.pack("<d", value)
    failed = 0
    for expr in EXPRESSIONS:
        expected = {re.sub(r'__name__="[^"]*", ', "", labels): value for labels, value in reference.get((expr, T), [])}
        got = ours.get(expr, {})
        differ = [(labels, value, got.get(labels)) for labels, value in expected.items()
                  if labels not in got or not (bits(value) == bits(got[labels]) or (value != value and got[labels] != got[labels]))]
        if not expected or differ:
            failed += 1
            print(f"{expr}: {len(differ)} of {len(expected)} differ from promtool, e.g. {differ[:3]}")
    print(f"{len(EXPRESSIONS) - failed} of {len(EXPRESSIONS)} functions equal promtool's on {len(values)} arguments (seed {seed})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
