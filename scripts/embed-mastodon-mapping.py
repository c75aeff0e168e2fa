#!/usr/bin/env python3
"""Copies etc/statsd-mapping-mastodon.yml into MastodonStatsdMapping.swift (the built-in mapping).

Run after editing the YAML; MastodonMappingTests fails while the two differ.
"""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
text = (root / "etc/statsd-mapping-mastodon.yml").read_text()
assert '"""#' not in text
swift_path = root / "Sources/MastiffStatsd/MastodonStatsdMapping.swift"
swift = swift_path.read_text()
start = swift.index('public static let shipped = #"""\n') + len('public static let shipped = #"""\n')
end = swift.index('"""#', start)
# A multi-line literal drops the line break before its closing delimiter: add one.
swift_path.write_text(swift[:start] + text + "\n" + swift[end:])
