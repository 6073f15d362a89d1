"""A local OAuth2 provider for the tests: token and device authorization
endpoints over HTTPS (the test CA's server certificate, 127.0.0.1).

The token endpoint answers grant_type=refresh_token as a provider does: it
knows which refresh tokens are valid, issues access tokens at-1, at-2...
(and, with rotate, a new refresh token each time, the old one becoming
invalid), and tells the linked SMTP server which token to accept.  Scripted
answers (script, device_polls) come first when set.  Every request is
recorded with its form.
"""
import json
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, List, Optional, Tuple

from smtpd_fixtures import HOST, server_tls_context

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):   # quiet
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n).decode()
        form = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
        status, answer = self.server.provider.answer(self.path, form, self.headers)
        data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Provider:
    def __init__(self, certs, *, smtp=None, refresh="rt-0", expires_in=3600, rotate=False,
                 delay=0.0, interval=1):
        self.smtp = smtp
        self.valid_refresh = {refresh}
        self.expires_in, self.rotate, self.delay, self.interval = expires_in, rotate, delay, interval
        self.requests: List[Tuple[str, Dict[str, str], float]] = []
        self.script: List[Tuple[int, object]] = []       # next answers, any path
        self.device_polls: List[Tuple[int, object]] = []  # answers to device-code polls
        self.issued = 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer((HOST, 0), _Handler)
        self.httpd.provider = self
        ctx = server_tls_context(certs.cert, certs.key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def token_url(self):
        return "https://{}:{}/token".format(HOST, self.port)

    @property
    def device_url(self):
        return "https://{}:{}/device".format(HOST, self.port)

    def token_requests(self) -> List[Dict[str, str]]:
        return [f for p, f, _ in self.requests if p == "/token"]

    def _issue(self, with_refresh=False):
        self.issued += 1
        at = "at-{}".format(self.issued)
        ans = {"access_token": at, "token_type": "Bearer", "expires_in": self.expires_in}
        if self.rotate or with_refresh:
            rt = "rt-{}".format(self.issued)
            self.valid_refresh = {rt}
            ans["refresh_token"] = rt
        if self.smtp is not None:
            self.smtp.password = at
        return 200, ans

    def answer(self, path, form, headers) -> Tuple[int, object]:
        with self.lock:
            self.requests.append((path, form, time.monotonic()))
            if self.script:
                return self.script.pop(0)
            if path == "/device":
                return 200, {"device_code": "dc-secret-1", "user_code": "WDJB-MJHT",
                             "verification_uri": "https://provider.test/device",
                             "expires_in": 120, "interval": self.interval}
            grant = form.get("grant_type")
            if grant == "refresh_token":
                if form.get("refresh_token") not in self.valid_refresh:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "AADSTS70000: the grant is expired"}
                if self.delay:
                    time.sleep(self.delay)
                return self._issue()
            if grant == DEVICE_CODE_GRANT and form.get("device_code") == "dc-secret-1":
                if self.device_polls:
                    return self.device_polls.pop(0)
                return self._issue(with_refresh=True)
            return 400, {"error": "unsupported_grant_type"}

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)
