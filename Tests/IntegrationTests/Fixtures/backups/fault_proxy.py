#!/usr/bin/python3
"""A TCP proxy in front of an S3 server that breaks large uploads, for mastiff's backup tests.

  fault_proxy.py TARGET_PORT MODE FAULTS [AFTER_BYTES] [STALL_SECONDS]

Prints the port it listens on (127.0.0.1), then serves until killed. Requests whose
Content-Length is at least 1 MiB (multipart parts) are faulted, the first FAULTS of them (-1: all):
  reset  forward AFTER_BYTES of the body, then close both sides with a TCP reset
  stall  forward AFTER_BYTES of the body, then stop forwarding for STALL_SECONDS, then close
Everything else (small requests, answers) passes through untouched. Counts are printed to stderr.
"""
import socket, struct, sys, threading, time

target_port, mode, faults = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
after = int(sys.argv[4]) if len(sys.argv) > 4 else 256 * 1024
stall_seconds = float(sys.argv[5]) if len(sys.argv) > 5 else 30
lock = threading.Lock()
state = {"faulted": 0}


def pipe(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def handle(client):
    upstream = socket.create_connection(("127.0.0.1", target_port))
    head = b""
    while b"\r\n\r\n" not in head:
        data = client.recv(65536)
        if not data:
            client.close(); upstream.close(); return
        head += data
    headers, _, body = head.partition(b"\r\n\r\n")
    length = 0
    for line in headers.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    fault = False
    if length >= 1 << 20:
        with lock:
            if faults < 0 or state["faulted"] < faults:
                state["faulted"] += 1
                fault = True
                print(f"faulting request {state['faulted']} ({mode}, {length} bytes)", file=sys.stderr, flush=True)
    if not fault:
        upstream.sendall(head)
        threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()
        pipe(client, upstream)
        return
    upstream.sendall(headers + b"\r\n\r\n" + body[:after])
    sent = len(body[:after])
    while sent < after:
        data = client.recv(min(65536, after - sent))
        if not data:
            break
        upstream.sendall(data)
        sent += len(data)
    if mode == "stall":
        time.sleep(stall_seconds)
    reset(client)
    reset(upstream)


listener = socket.socket()
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
while True:
    connection, _ = listener.accept()
    threading.Thread(target=handle, args=(connection,), daemon=True).start()
