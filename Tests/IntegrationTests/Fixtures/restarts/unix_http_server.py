"""An HTTP server on a unix socket that records each request line and answers STATUS with an
empty body: a stand-in for the Docker Engine API, which cannot run here.

    unix_http_server.py SOCKET LOG STATUS
"""
import http.server
import os
import socketserver
import sys

path, log, status = sys.argv[1], sys.argv[2], int(sys.argv[3])


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        with open(log, "a") as handle:
            handle.write("%s %s\n" % (self.command, self.path))
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def address_string(self):
        return "unix"

    def log_message(self, *arguments):
        pass


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    pass


if os.path.exists(path):
    os.unlink(path)
Server(path, Handler).serve_forever()
