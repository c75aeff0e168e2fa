#!/usr/bin/env python3
"""Captures a scrubbed /proc fixture tree for the collector tests from the machine it runs on.

Each captured process is given a fixture PID, and its command line and name are replaced by the
ones given (what Puma, Sidekiq and the streaming server look like on a Mastodon host), so no
host detail of the capturing machine is kept. System-wide files are copied as they are.

    scripts/capture-proc-fixture.py OUT_DIR REAL_PID:FIXTURE_PID:COMM:CMDLINE ...
"""
import os
import re
import sys

SYSTEM_FILES = ["meminfo", "vmstat", "loadavg", "stat", "sys/fs/file-nr",
                "pressure/cpu", "pressure/io", "pressure/memory"]


def copy(src, dst, transform=None):
    try:
        with open(src, "rb") as f:
            data = f.read()
    except OSError as e:
        print(f"skip {src}: {e}", file=sys.stderr)
        return
    if transform:
        data = transform(data)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    with open(dst, "wb") as f:
        f.write(data)


def main():
    out = sys.argv[1]
    for name in SYSTEM_FILES:
        copy(f"/proc/{name}", f"{out}/{name}")
    for spec in sys.argv[2:]:
        real, fake, comm, cmdline = spec.split(":", 3)
        src, dst = f"/proc/{real}", f"{out}/{fake}"

        def rewrite_stat(data, fake=fake, comm=comm):
            text = data.decode()
            rest = text[text.rindex(")") + 1:]
            return f"{fake} ({comm}){rest}".encode()

        def scrub_status(data, fake=fake, comm=comm):
            lines = []
            for line in data.decode().splitlines():
                if line.startswith("Name:"):
                    line = f"Name:\t{comm}"
                elif line.startswith(("Pid:", "Tgid:", "NSpid:", "NStgid:")):
                    line = re.sub(r"\d+", fake, line)
                lines.append(line)
            return ("\n".join(lines) + "\n").encode()

        copy(f"{src}/stat", f"{dst}/stat", rewrite_stat)
        copy(f"{src}/status", f"{dst}/status", scrub_status)
        copy(f"{src}/smaps_rollup", f"{dst}/smaps_rollup",
             lambda d: re.sub(rb"^[0-9a-f]+-[0-9a-f]+ .*$", b"00400000-7ffc00000000 ---p 00000000 00:00 0 [rollup]", d, flags=re.M))
        copy(f"{src}/limits", f"{dst}/limits")
        args = cmdline.split(" ") if cmdline else []
        with open(f"{dst}/cmdline", "wb") as f:
            f.write(b"".join(a.encode() + b"\0" for a in args))
        with open(f"{dst}/comm", "w") as f:
            f.write(comm + "\n")
        os.makedirs(f"{dst}/fd", exist_ok=True)
        count = len(os.listdir(f"{src}/fd")) if os.path.isdir(f"{src}/fd") else 0
        for i in range(count):
            os.symlink("/dev/null", f"{dst}/fd/{i}")


if __name__ == "__main__":
    main()
