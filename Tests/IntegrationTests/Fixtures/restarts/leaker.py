"""A process that leaks memory, for the restart tests (run under supervisord).

    leaker.py STARTS_FILE once|always
Appends its pid to STARTS_FILE when it starts. `once`: leaks only if STARTS_FILE did not exist
(the first run); `always`: every run leaks. Leaking = 8 MiB more touched memory every 0.25 s,
up to 320 MiB.
"""
import os
import sys
import time

starts, mode = sys.argv[1], sys.argv[2]
leak = mode == "always" or not os.path.exists(starts)
with open(starts, "a") as handle:
    handle.write("%d\n" % os.getpid())
blocks = []
while True:
    if leak and len(blocks) < 40:
        block = bytearray(8 << 20)
        for offset in range(0, len(block), 4096):
            block[offset] = 1
        blocks.append(block)
    time.sleep(0.25)
