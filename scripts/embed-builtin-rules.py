#!/usr/bin/env python3
"""Copies alerts/mastiff.rules.yml into BuiltinRules.swift (the rules mastiff evaluates with
alerts.builtin: true). Run after editing the YAML; BuiltinRulesTests fails while the two differ.
"""
import pathlib

root = pathlib.Path(__file__).resolve().parent.parent
text = (root / "alerts/mastiff.rules.yml").read_text()
assert '"""#' not in text
swift_path = root / "Sources/MastiffPolicies/Alerting/BuiltinRules.swift"
swift = swift_path.read_text()
start = swift.index('public static let shipped = #"""\n') + len('public static let shipped = #"""\n')
end = swift.index('"""#', start)
# A multi-line literal drops the line break before its closing delimiter: add one.
swift_path.write_text(swift[:start] + text + "\n" + swift[end:])
