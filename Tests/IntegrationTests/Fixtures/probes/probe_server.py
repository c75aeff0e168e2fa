"""An HTTP(S) server for ProbeIntegrationTests: /health answers OK, /api/v2/instance JSON with a
domain, /hop redirects within the host to /health, /away redirects to another host (an IP
address nobody serves), /slow answers after 5 s, anything else 404.

    probe_server.py PORT [CERT KEY]
"""
import http.server
import json
import ssl
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/health")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/away":
            self.send_response(302)
            self.send_header("Location", "http://192.0.2.1:%d/health" % port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(5)
        status, body = 404, b"not found"
        if self.path in ("/health", "/slow"):
            status, body = 200, b"OK"
        elif self.path == "/api/v2/instance":
            status, body = 200, json.dumps({"domain": "example.test", "configuration": {"urls": {"streaming": "wss://x"}}}).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *arguments):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler)
if len(sys.argv) > 3:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(sys.argv[2], sys.argv[3])
    server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
