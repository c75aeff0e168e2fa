"""An S3 endpoint that answers as a broken or hostile one would, for the backup tests.

    hostile_s3.py PORT MODE
MODE: loop     every ListObjectsV2/ListMultipartUploads page says IsTruncated with the same token
      endless  every page is truncated, with 1000 keys and a new token each time
      garbage  200 with HTML instead of a listing
      drip     a valid listing, sent at about 2 KB/s (just above libcurl's low-speed limit)
Signatures are not checked; only the listing requests matter.
"""
import http.server
import sys
import time

port, mode = int(sys.argv[1]), sys.argv[2]
pages = [0]


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        prefix = ""
        for part in self.path.partition("?")[2].split("&"):
            if part.startswith("prefix="):
                prefix = part[len("prefix="):].replace("%2F", "/")
        uploads = "uploads" in self.path
        root = "ListMultipartUploadsResult" if uploads else "ListBucketResult"
        pages[0] += 1
        if mode == "garbage":
            body = b"<html><body>Service temporarily borked</body></html>"
        elif mode in ("loop", "endless"):
            token = "same" if mode == "loop" else "token-%d" % pages[0]
            if uploads:
                entries = "".join("<Upload><Key>%sk%d-%d</Key><UploadId>u</UploadId></Upload>" % (prefix, pages[0], i) for i in range(1000))
                body = ("<%s><IsTruncated>true</IsTruncated><NextKeyMarker>%s</NextKeyMarker><NextUploadIdMarker>x</NextUploadIdMarker>%s</%s>"
                        % (root, token, entries, root)).encode()
            else:
                entries = "".join("<Contents><Key>%sk%d-%d</Key><Size>1</Size></Contents>" % (prefix, pages[0], i) for i in range(1000))
                body = ("<%s><IsTruncated>true</IsTruncated><NextContinuationToken>%s</NextContinuationToken>%s</%s>"
                        % (root, token, entries, root)).encode()
        else:
            entries = "".join("<Contents><Key>%sk%d</Key><Size>1</Size></Contents>" % (prefix, i) for i in range(2000))
            body = ("<%s><IsTruncated>false</IsTruncated>%s</%s>" % (root, entries, root)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if mode == "drip":
                for start in range(0, len(body), 200):
                    self.wfile.write(body[start:start + 200])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
        except OSError:
            pass

    def log_message(self, *arguments):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
