"""An HTTP server that records every request (method, path, headers, body) as one JSON line
and answers with the next status of a script (the last one repeats), for the notification tests.

    recording_server.py PORT LOG [STATUS[,STATUS…]]     e.g. 500,500,200
A 429 answer carries Retry-After: 1. The hostile answers of the defect tests:
    429:VALUE   429 with Retry-After: VALUE (inf, 1e300, 999999999, …)
    200:big     200 with a 256 KiB body
    hang        read the request, never answer (until the server is stopped)
    slow:SECONDS  answer 200, after SECONDS
"""
import http.server
import json
import os
import sys
import threading
import time

port, log = int(sys.argv[1]), sys.argv[2]
statuses = (sys.argv[3] if len(sys.argv) > 3 else "200").split(",")
lock = threading.Lock()
count = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        with lock:
            script = statuses[min(count[0], len(statuses) - 1)]
            count[0] += 1
            with open(log, "a") as handle:
                handle.write(json.dumps({"time": time.time(), "method": self.command, "path": self.path,
                                         "headers": {k.lower(): v for k, v in self.headers.items()},
                                         "header_names": [k.lower() for k in self.headers.keys()],
                                         "body": body, "status": 0 if script == "hang" else 200 if script.startswith("slow:") else int(script.partition(":")[0]), "script": script}) + "\n")
        if script == "hang":
            time.sleep(3600)
            return
        if script.startswith("slow:"):
            time.sleep(float(script.partition(":")[2]))
            script = "200"
        status, _, extra = script.partition(":")
        status = int(status)
        answer = b'{"ok":true}' if status < 300 else b'{"error":"scripted failure"}'
        if extra == "big":
            answer = b"x" * (256 << 10)
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", extra or "1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_POST = do_PUT = do_GET = handle_any

    def log_message(self, *arguments):
        pass


# RECORDING_SERVER_ADDRESS: where to listen (default 127.0.0.1; the multi-host test's is on its bridge).
http.server.ThreadingHTTPServer((os.environ.get("RECORDING_SERVER_ADDRESS", "127.0.0.1"), port), Handler).serve_forever()
