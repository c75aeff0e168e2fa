"""A Puma-like cluster for the restart tests: a master that forks WORKERS workers and forks a new
one whenever a worker exits (as Puma's master does on a worker's TERM). Each worker leaks memory
(8 MiB more every 0.25 s, up to 160 MiB). Every start and exit is appended to EVENTS as
"start|exit PID TIME".

    pumalike.py EVENTS WORKERS
"""
import os
import signal
import sys
import time

events, count = sys.argv[1], int(sys.argv[2])


def log(kind, pid):
    with open(events, "a") as handle:
        handle.write("%s %d %.3f\n" % (kind, pid, time.time()))


def worker():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    blocks = []
    while True:
        if len(blocks) < 20:
            block = bytearray(8 << 20)
            for offset in range(0, len(block), 4096):
                block[offset] = 1
            blocks.append(block)
        time.sleep(0.25)


def spawn():
    pid = os.fork()
    if pid == 0:
        worker()
    log("start", pid)


# A process group of its own, so that stopping the master takes its workers and nothing else.
os.setpgrp()
signal.signal(signal.SIGTERM, lambda *_: os.killpg(0, signal.SIGKILL))
for _ in range(count):
    spawn()
while True:
    pid, _ = os.wait()
    log("exit", pid)
    spawn()
