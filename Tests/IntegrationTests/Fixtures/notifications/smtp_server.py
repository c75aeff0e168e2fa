"""An SMTP server for the e-mail receiver test: aiosmtpd (Debian's python3-aiosmtpd) with
STARTTLS required and AUTH (PLAIN/LOGIN) checked against one user, saving each message it
accepts as a file in DIR.

    smtp_server.py PORT CERT KEY USER PASSWORD DIR
"""
import signal
import os
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, cert, key, user, password, directory = sys.argv[1:7]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == user and auth_data.password.decode() == password
    # handled=False: aiosmtpd answers 535 itself (with the default, True, it would say nothing).
    return AuthResult(success=ok, handled=False)


class Saver:
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(directory, "%d.eml" % time.time_ns())
        with open(name, "wb") as handle:
            handle.write(b"X-Envelope-From: " + envelope.mail_from.encode() + b"\r\n")
            handle.write(b"X-Envelope-To: " + ",".join(envelope.rcpt_tos).encode() + b"\r\n")
            handle.write(envelope.original_content or envelope.content)
        return "250 OK"


controller = Controller(Saver(), hostname="127.0.0.1", port=int(port), tls_context=context, require_starttls=True,
                        auth_required=True, auth_require_tls=True, authenticator=authenticator)
controller.start()
print("ready", flush=True)
signal.pause()
