#!/usr/bin/python3
"""Opens CLIENTS connections to 127.0.0.1:PORT at once, sends `GET PATH` on each, and reads every
one until the server closes it or answers completely, for at most DEADLINE seconds in all.

    many_clients.py PORT CLIENTS PATH DEADLINE

Prints one JSON object: answered (a complete 200: headers and Content-Length bytes), refused
(connect failed or closed before a complete answer), unfinished (still open at the deadline),
seconds (wall time).
"""
import json
import resource
import selectors
import socket
import sys
import time

port, clients, path, deadline_seconds = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, clients + 64)), hard))
selector = selectors.DefaultSelector()
request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode()
started = time.monotonic()
counts = {"answered": 0, "refused": 0, "unfinished": 0}
pending = {}
for _ in range(clients):
    sock = socket.socket()
    sock.setblocking(False)
    try:
        sock.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    except OSError:
        counts["refused"] += 1
        sock.close()
        continue
    pending[sock] = {"sent": False, "data": b""}
    selector.register(sock, selectors.EVENT_WRITE | selectors.EVENT_READ)


def complete(data):
    head, separator, body = data.partition(b"\r\n\r\n")
    if not separator or not head.startswith(b"HTTP/1.1 200"):
        return False
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def finish(sock, answered):
    counts["answered" if answered else "refused"] += 1
    selector.unregister(sock)
    sock.close()
    del pending[sock]


while pending and time.monotonic() - started < deadline_seconds:
    for key, events in selector.select(timeout=0.5):
        sock, state = key.fileobj, pending.get(key.fileobj)
        if state is None:
            continue
        try:
            if events & selectors.EVENT_WRITE and not state["sent"]:
                sock.send(request)
                state["sent"] = True
                selector.modify(sock, selectors.EVENT_READ)
                continue
            if events & selectors.EVENT_READ:
                chunk = sock.recv(65536)
                if chunk:
                    state["data"] += chunk
                    if complete(state["data"]):
                        finish(sock, True)
                else:
                    finish(sock, complete(state["data"]))
        except OSError:
            finish(sock, False)
counts["unfinished"] = len(pending)
for sock in list(pending):
    sock.close()
counts["seconds"] = round(time.monotonic() - started, 2)
print(json.dumps(counts))
