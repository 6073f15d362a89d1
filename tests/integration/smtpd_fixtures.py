"""Real SMTP servers on 127.0.0.1 for the mailout integration tests.

Everything here runs in-process: aiosmtpd's Controller (one asyncio loop in a
thread per server) for every server that speaks SMTP, and plain sockets for
the two faults aiosmtpd cannot express (a port that refuses connections, and
a server that accepts TCP but never greets).

Each server records, per TCP connection, the bytes the client sent (after
TLS decryption), the replies it got, the EHLO names, whether TLS was used,
and every AUTH attempt; and per message the envelope and the DATA bytes as
received (after the server removed dot-stuffing, nothing else changed).

Faults are configured with a Faults object (see below).  Nothing listens on
anything but 127.0.0.1, every port is chosen by the kernel (bind to port 0),
and every server stops when its fixture is torn down.
"""

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, LoginPassword

HOST = "127.0.0.1"
SERVER_NAME = "mx.test.invalid"

# aiosmtpd logs every command at INFO; keep the test output readable.
logging.getLogger("mail.log").setLevel(logging.WARNING)


# --------------------------------------------------------------------------
# Certificates (openssl CLI)
# --------------------------------------------------------------------------

@dataclass
class Certs:
    dir: str
    ca: str                 # the test CA (pass as tls_trust_file)
    cert: str               # server cert for 127.0.0.1 + localhost, signed by the CA
    key: str
    untrusted_cert: str     # self-signed, same names, not signed by the CA
    untrusted_key: str
    wrongname_cert: str     # signed by the CA, but for wrong.example.invalid only
    wrongname_key: str
    pin: str                # "sha256//BASE64" public-key pin of `cert`
    untrusted_pin: str


def _openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _pin_of(cert_path, cwd):
    pub = subprocess.run(["openssl", "x509", "-in", cert_path, "-pubkey", "-noout"],
                         cwd=cwd, check=True, capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                         cwd=cwd, check=True, capture_output=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def make_certs(d):
    """Create a CA, a server certificate signed by it, a self-signed one and a
    CA-signed one with the wrong name, in directory d."""
    d = str(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "3",
             "-subj", "/CN=mailout test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)

    def signed(name, sans):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n"
                    "subjectAltName=" + sans + "\n")
        _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + sans.split(",")[0].split(":", 1)[1], cwd=d)
        _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", name + ".crt", "-days", "3",
                 "-extfile", name + ".ext", cwd=d)

    # 127.0.0.2 and .3: the second and third relay of the failover tests.
    signed("server", "DNS:localhost,IP:127.0.0.1,IP:127.0.0.2,IP:127.0.0.3")
    signed("wrongname", "DNS:wrong.example.invalid")
    _openssl("req", "-x509", *ec, "-keyout", "untrusted.key", "-out", "untrusted.crt",
             "-days", "3", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", cwd=d)
    j = lambda n: os.path.join(d, n)  # noqa: E731
    return Certs(dir=d, ca=j("ca.crt"), cert=j("server.crt"), key=j("server.key"),
                 untrusted_cert=j("untrusted.crt"), untrusted_key=j("untrusted.key"),
                 wrongname_cert=j("wrongname.crt"), wrongname_key=j("wrongname.key"),
                 pin=_pin_of(j("server.crt"), d), untrusted_pin=_pin_of(j("untrusted.crt"), d))


def make_client_cert(certs: Certs, name="client", cn="mailout test client"):
    """A client certificate (extendedKeyUsage clientAuth) and its key, signed
    by the test CA, in certs.dir.  Returns (cert path, key path)."""
    d = certs.dir
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=clientAuth\n")
    _openssl("req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + cn,
             cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", name + ".crt", "-days", "3", "-extfile", name + ".ext",
             cwd=d)
    return os.path.join(d, name + ".crt"), os.path.join(d, name + ".key")


def _rsa_server_cert(certs):
    """An RSA server certificate from the test CA (made once): TLS 1.0 and
    1.1 cannot sign with the EC keys of the others."""
    d = certs.dir
    crt, key = os.path.join(d, "rsa.crt"), os.path.join(d, "rsa.key")
    if not os.path.exists(crt):
        with open(os.path.join(d, "rsa.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                    "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "rsa.key",
                 "-out", "rsa.csr", "-subj", "/CN=localhost", cwd=d)
        _openssl("x509", "-req", "-in", "rsa.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                 "-CAcreateserial", "-out", "rsa.crt", "-days", "3", "-extfile", "rsa.ext",
                 cwd=d)
    return crt, key


def server_tls_context(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    return ctx


# --------------------------------------------------------------------------
# What the servers record
# --------------------------------------------------------------------------

@dataclass
class AuthAttempt:
    mechanism: str
    login: str
    password: str
    success: bool


@dataclass
class Connection:
    """One TCP connection as the server saw it."""
    peer: tuple = None
    ehlo: List[str] = field(default_factory=list)      # EHLO/HELO names, in order
    tls: bool = False
    tls_version: Optional[str] = None
    auth: List[AuthAttempt] = field(default_factory=list)
    wire_in: bytearray = field(default_factory=bytearray)   # client -> server (plaintext)
    wire_out: bytearray = field(default_factory=bytearray)  # server -> client replies
    in_data: bool = False
    data_bytes: int = 0
    dropped: bool = False
    closed: bool = False
    closed_at: Optional[float] = None    # time.monotonic() when the client went away
    hung_at: Optional[float] = None      # time.monotonic() when a final dot got no reply
    client_cert: Optional[dict] = None   # the verified client certificate (getpeercert())

    @property
    def commands(self) -> List[str]:
        """Command lines the client sent outside DATA (roughly: every line of
        wire_in up to the first DATA, then the lines after each final dot)."""
        out, in_data = [], False
        for line in bytes(self.wire_in).split(b"\r\n"):
            if in_data:
                if line == b".":
                    in_data = False
                continue
            out.append(line.decode("utf-8", "replace"))
            if line.upper() == b"DATA":
                in_data = True
        return out

    @property
    def authenticated(self) -> Optional[AuthAttempt]:
        for a in self.auth:
            if a.success:
                return a
        return None


@dataclass
class Message:
    mail_from: str                  # "<>" for the null sender
    mail_options: List[str]
    rcpt_tos: List[str]
    rcpt_options: List[str]
    data: bytes                     # DATA as received, dot-stuffing removed
    conn: Connection

    @property
    def ehlo(self) -> Optional[str]:
        return self.conn.ehlo[-1] if self.conn.ehlo else None

    @property
    def tls(self) -> bool:
        return self.conn.tls

    @property
    def auth(self) -> Optional[AuthAttempt]:
        return self.conn.authenticated

    @property
    def header_bytes(self) -> bytes:
        """The header section, each field ending in CRLF, without the blank line."""
        i = self.data.find(b"\r\n\r\n")
        return self.data if i < 0 else self.data[:i + 2]

    @property
    def body(self) -> bytes:
        i = self.data.find(b"\r\n\r\n")
        return b"" if i < 0 else self.data[i + 4:]

    def headers(self, name: str) -> List[bytes]:
        """Every field called name (case-insensitive), raw, unfolded lines kept,
        without the final CRLF."""
        fields, cur = [], None
        for line in self.header_bytes.split(b"\r\n")[:-1]:
            if line[:1] in (b" ", b"\t") and cur is not None:
                cur += b"\r\n" + line
                continue
            if cur is not None:
                fields.append(cur)
            cur = line
        if cur is not None:
            fields.append(cur)
        n = name.lower().encode() + b":"
        return [f for f in fields if f.lower().startswith(n)]


@dataclass
class Faults:
    """How a server misbehaves.  Replies are complete SMTP reply lines."""
    greeting: Optional[str] = None          # e.g. "554 go away" instead of 220
    ehlo: Optional[str] = None              # reply to every EHLO and HELO
    starttls: Optional[str] = None          # reply to STARTTLS instead of starting TLS
    mail: Optional[str] = None              # reply to every MAIL FROM
    rcpt: Optional[str] = None              # reply to every RCPT TO
    rcpt_for: Dict[str, str] = field(default_factory=dict)  # address -> reply
    data_cmd: Optional[str] = None          # reply to the DATA command instead of 354
    data: Optional[str] = None              # reply to the final dot
    hang_after_dot: float = 0.0             # wait this long before replying to the dot
    drop_during_data: Optional[int] = None  # drop the connection after this many DATA bytes
    offer_auth: bool = True                 # False: no AUTH in the EHLO reply
    auth_reply: Optional[str] = None        # reply to AUTH instead of authenticating
    on_rcpt: Optional[Callable] = None      # called with the Connection at each RCPT
    bearer_error: bool = False              # a refused XOAUTH2/OAUTHBEARER token gets
                                            # RFC 7628's 334 error challenge before 535


# --------------------------------------------------------------------------
# aiosmtpd plumbing
# --------------------------------------------------------------------------

class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP with recording, the null sender, and low-level faults."""

    def __init__(self, handler, *, srv, **kw):
        self.srv = srv
        self.conn = None
        super().__init__(handler, **kw)

    # The null sender: aiosmtpd answers "MAIL FROM:<>" with a syntax error.
    def _getaddr(self, arg):
        if arg is not None and arg.strip().startswith("<>"):
            return "<>", arg.strip()[2:].strip()
        return super()._getaddr(arg)

    def connection_made(self, transport):
        if self._original_transport is None and self.conn is None:
            self.conn = Connection(peer=transport.get_extra_info("peername"))
            self.srv.connections.append(self.conn)
        sslobj = transport.get_extra_info("ssl_object")
        if sslobj is not None:
            self.conn.tls = True
            self.conn.tls_version = sslobj.version()
            self.conn.client_cert = sslobj.getpeercert() or None
        super().connection_made(transport)

    def connection_lost(self, error):
        if self.conn is not None:
            self.conn.closed = True
            self.conn.closed_at = time.monotonic()
        super().connection_lost(error)

    def data_received(self, data):
        conn = self.conn
        conn.wire_in += data
        limit = self.srv.faults.drop_during_data
        if conn.in_data and limit is not None:
            conn.data_bytes += len(data)
            if conn.data_bytes >= limit:
                conn.dropped = True
                (self._original_transport or self.transport).abort()
                return
        super().data_received(data)

    async def push(self, status):
        raw = status.encode("utf-8") if isinstance(status, str) else status
        if self.conn is not None:
            self.conn.wire_out += raw + b"\r\n"
            if raw.startswith(b"354"):
                self.conn.in_data = True
                self.conn.data_bytes = 0
        await super().push(status)

    async def smtp_STARTTLS(self, arg):
        if self.srv.faults.starttls:
            await self.push(self.srv.faults.starttls)
            return
        await super().smtp_STARTTLS(arg)

    async def smtp_DATA(self, arg):
        if self.srv.faults.data_cmd and self.envelope.rcpt_tos:
            await self.push(self.srv.faults.data_cmd)
            return
        await super().smtp_DATA(arg)

    async def _handle_client(self):
        if self.srv.faults.greeting is not None:
            await self.push(self.srv.faults.greeting)
            self.transport.close()
            return
        await super()._handle_client()


class RecordingHandler:
    def __init__(self, srv):
        self.srv = srv

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        server.conn.ehlo.append(hostname)
        if self.srv.faults.ehlo:
            return [self.srv.faults.ehlo]
        session.host_name = hostname
        if not self.srv.faults.offer_auth:
            responses = [r for r in responses if not r[4:].upper().startswith("AUTH")]
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        server.conn.ehlo.append(hostname)
        if self.srv.faults.ehlo:
            return self.srv.faults.ehlo
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_AUTH(self, server, session, envelope, args):
        if self.srv.faults.auth_reply:
            server.conn.auth.append(AuthAttempt(args[0] if args else "", "", "", False))
            return self.srv.faults.auth_reply
        return MISSING

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.srv.faults.mail:
            return self.srv.faults.mail
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        f = self.srv.faults
        if f.on_rcpt:
            f.on_rcpt(server.conn)
        reply = f.rcpt_for.get(address) or f.rcpt_for.get(address.lower()) or f.rcpt
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        conn = server.conn
        conn.in_data = False
        msg = Message(mail_from=envelope.mail_from, mail_options=list(envelope.mail_options),
                      rcpt_tos=list(envelope.rcpt_tos), rcpt_options=list(envelope.rcpt_options),
                      data=bytes(envelope.original_content), conn=conn)
        f = self.srv.faults
        if f.hang_after_dot:
            self.srv.hung.append(msg)
            conn.hung_at = time.monotonic()
            await asyncio.sleep(f.hang_after_dot)
            return "451 4.3.0 timed out (test server)"
        if f.data:
            self.srv.refused.append(msg)
            return f.data
        self.srv.messages.append(msg)
        return "250 2.0.0 OK: queued as T{}".format(len(self.srv.messages))

    # CRAM-MD5 (aiosmtpd has PLAIN and LOGIN built in); the name maps to "CRAM-MD5".
    async def auth_CRAM__MD5(self, server, args):
        challenge = "<{}.{}@{}>".format(os.getpid(), time.monotonic_ns(), SERVER_NAME)
        resp = await server.challenge_auth(challenge)
        if not isinstance(resp, bytes):
            return AuthResult(success=False)
        try:
            login, digest = resp.decode().rsplit(" ", 1)
        except ValueError:
            await server.push("501 5.5.2 Can't split auth value")
            return AuthResult(success=False, handled=True)
        expect = hmac.new(self.srv.password.encode(), challenge.encode(), "md5").hexdigest()
        ok = login == self.srv.user and hmac.compare_digest(digest.lower(), expect)
        server.conn.auth.append(AuthAttempt("CRAM-MD5", login, "(hmac)", ok))
        return AuthResult(success=ok, handled=False,
                          auth_data=LoginPassword(login.encode(), b"") if ok else None)

    # OAuth 2.0 bearer tokens: the token is the server's password.  The
    # decoded client response is kept in srv.sasl_responses.
    async def _initial_response(self, server, args):
        """The client's first response, decoded: the initial response on the
        AUTH line, else the answer to an empty challenge ("=" is empty, RFC
        4954, which aiosmtpd's challenge_auth() does not accept)."""
        if len(args) > 1:
            blob = args[1].encode()
        else:
            await server.push("334 ")
            blob = (await server._reader.readline()).strip()
        if blob == b"=":
            return b""
        try:
            return base64.b64decode(blob, validate=True)
        except ValueError:
            return None

    async def _bearer(self, server, mechanism, login, fields, raw):
        self.srv.sasl_responses.append(raw)
        auth = fields.get("auth", "")
        token = auth[7:] if auth.startswith("Bearer ") else ""
        ok = login == self.srv.user and token == self.srv.password
        server.conn.auth.append(AuthAttempt(mechanism, login, token, ok))
        if not ok and self.srv.faults.bearer_error:
            err = b'{"status":"401","schemes":"bearer","scope":"https://mail.example/"}'
            self.srv.bearer_errors += 1
            await server.push("334 " + base64.b64encode(err).decode())
            await server._reader.readline()     # the client's end of the exchange
        return AuthResult(success=ok, handled=False,
                          auth_data=LoginPassword(login.encode(), b"") if ok else None)

    # XOAUTH2: base64("user=U\x01auth=Bearer T\x01\x01")
    async def auth_XOAUTH2(self, server, args):
        raw = await self._initial_response(server, args)
        if raw is None:
            return AuthResult(success=False)
        parts = raw.decode("utf-8", "replace").split("\x01")
        fields = dict(p.split("=", 1) for p in parts if "=" in p)
        return await self._bearer(server, "XOAUTH2", fields.get("user", ""), fields, raw)

    # OAUTHBEARER (RFC 7628): base64("n,a=U,\x01host=H\x01port=P\x01auth=Bearer T\x01\x01")
    async def auth_OAUTHBEARER(self, server, args):
        raw = await self._initial_response(server, args)
        if raw is None:
            return AuthResult(success=False)
        parts = raw.decode("utf-8", "replace").split("\x01")
        gs2 = parts[0].split(",")
        login = next((g[2:] for g in gs2 if g.startswith("a=")), "")
        fields = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        return await self._bearer(server, "OAUTHBEARER", login, fields, raw)

    # EXTERNAL (RFC 4422): the identity is the verified client certificate;
    # the optional authorization identity is recorded as the login.
    async def auth_EXTERNAL(self, server, args):
        raw = await self._initial_response(server, args)
        login = raw.decode("utf-8", "replace") if raw else ""
        ok = server.conn.client_cert is not None
        server.conn.auth.append(AuthAttempt("EXTERNAL", login, "", ok))
        return AuthResult(success=ok, handled=False,
                          auth_data=LoginPassword(login.encode(), b"") if ok else None)


class _Controller(Controller):
    """Controller on a kernel-chosen port of 127.0.0.1 (or on address) with
    our SMTP class."""

    def __init__(self, handler, srv, address=(HOST, 0), **kw):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(address)
        self._srv = srv
        super().__init__(handler, hostname=address[0], port=self._sock.getsockname()[1], **kw)

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock,
                                       ssl=self.ssl_context)

    def _trigger_server(self):
        if not getattr(self._srv, "old_tls", False):
            return super()._trigger_server()
        # aiosmtpd's start-up probe cannot speak TLS 1.0/1.1 by itself.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        with socket.create_connection((HOST, self.port), 1.0) as raw:
            with ctx.wrap_socket(raw) as s:
                s.recv(1024)

    def factory(self):
        return RecordingSMTP(self.handler, srv=self._srv, **self.SMTP_kwargs)


class SMTPServer:
    """A running aiosmtpd server.

    mode: "plain" (no TLS offered), "starttls" (STARTTLS offered, AUTH only
    after it), "smtps" (implicit TLS).  cert: "good", "untrusted" (self-signed)
    or "wrongname".  auth: offer AUTH with these mechanisms and accept
    user/password.  auth_required: refuse MAIL before AUTH (530).
    mechanisms may also name XOAUTH2 and OAUTHBEARER (password is the bearer
    token) and EXTERNAL (succeeds when the client presented a certificate).
    require_client_cert: the TLS handshake needs a client certificate signed
    by the test CA (make_client_cert()).
    address: (host, port) to listen on; default 127.0.0.1 and a free port
    (relay failover tests put several relays on one port of 127.0.0.x).
    """

    def __init__(self, certs: Certs, mode="plain", *, auth=False, user="mailuser",
                 password="s3cret-Pa55", mechanisms=("PLAIN", "LOGIN"), cert="good",
                 auth_required=False, faults: Optional[Faults] = None,
                 require_client_cert=False, old_tls=False, address=(HOST, 0)):
        assert mode in ("plain", "starttls", "smtps")
        self.certs, self.mode, self.old_tls = certs, mode, old_tls
        self.user, self.password = user, password
        self.auth = auth
        self.faults = faults or Faults()
        self.messages: List[Message] = []   # accepted (250 to the final dot)
        self.refused: List[Message] = []    # DATA received, refused after the dot
        self.hung: List[Message] = []       # DATA received, no reply sent
        self.connections: List[Connection] = []
        self.sasl_responses: List[bytes] = []   # decoded XOAUTH2/OAUTHBEARER responses
        self.bearer_errors = 0                  # error challenges sent (faults.bearer_error)

        ctx = None
        if mode != "plain":
            c, k = {"good": (certs.cert, certs.key),
                    "untrusted": (certs.untrusted_cert, certs.untrusted_key),
                    "wrongname": (certs.wrongname_cert, certs.wrongname_key)}[cert]
            ctx = server_tls_context(c, k)
            if old_tls:
                # Only the withdrawn TLS 1.0 and 1.1 (RFC 8996); OpenSSL
                # needs security level 0 and an RSA key for them.
                ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1_1
                ctx.load_cert_chain(*_rsa_server_cert(certs))
            if require_client_cert:
                # TLS handshakes without a certificate from the test CA fail.
                ctx.verify_mode = ssl.CERT_REQUIRED
                ctx.load_verify_locations(certs.ca)
        kw = dict(server_hostname=SERVER_NAME, ident="mailout-test-smtpd", timeout=20,
                  enable_SMTPUTF8=True, data_size_limit=None)
        if mode == "starttls":
            kw.update(tls_context=ctx, require_starttls=False)
        # Mechanisms this class adds are offered only when asked for.
        extra_mechs = ["XOAUTH2", "OAUTHBEARER", "EXTERNAL"]
        if auth:
            all_mechs = {"PLAIN", "LOGIN", "CRAM-MD5", *extra_mechs}
            kw.update(authenticator=self._authenticate, auth_required=auth_required,
                      auth_require_tls=(mode == "starttls"),
                      auth_exclude_mechanism=sorted(all_mechs - set(mechanisms)))
        else:
            kw.update(auth_exclude_mechanism=["PLAIN", "LOGIN", "CRAM-MD5", *extra_mechs],
                      auth_require_tls=True)
        self.handler = RecordingHandler(self)
        self._ctl = _Controller(self.handler, self, address=address,
                                ssl_context=ctx if mode == "smtps" else None, **kw)
        self._ctl.start()
        # Forget the controller's own start-up probe connection.
        self.connections.clear()
        self.host, self.port = address[0], self._ctl.port

    def _authenticate(self, server, session, envelope, mechanism, data):
        login = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        ok = (login == self.user and password == self.password)
        server.conn.auth.append(AuthAttempt(mechanism, login, password, ok))
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)

    @property
    def tls_setting(self):
        return {"plain": "off", "starttls": "starttls", "smtps": "smtps"}[self.mode]

    def wire_in(self) -> bytes:
        """Everything every client sent, concatenated."""
        return b"".join(bytes(c.wire_in) for c in self.connections)

    def commands(self) -> List[str]:
        return [c for conn in self.connections for c in conn.commands]

    def received_nothing(self) -> bool:
        """No message was accepted, refused after the dot, or left hanging, and
        no client ever got as far as MAIL FROM."""
        return (not self.messages and not self.refused and not self.hung and
                not any(c.upper().startswith("MAIL") for c in self.commands()))

    def stop(self):
        try:
            self._ctl.stop()
        except AssertionError:
            pass


# --------------------------------------------------------------------------
# Faults aiosmtpd cannot express
# --------------------------------------------------------------------------

class RefusedPort:
    """A port on 127.0.0.1 where a connection is refused: the socket is bound
    (so nobody else gets the port) but never listens."""

    def __init__(self, port=0):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((HOST, port))
        except OSError:
            self._sock.close()
            raise
        self.host, self.port = HOST, self._sock.getsockname()[1]

    def stop(self):
        self._sock.close()


class SilentServer:
    """Accepts TCP connections and never sends a byte (no greeting).  The
    kernel completes the handshake from the listen backlog; nothing accepts.
    Records whether a client connected by accepting in a thread and holding
    the socket open until stop()."""

    def __init__(self, port=0):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((HOST, port))
        except OSError:
            self._sock.close()
            raise
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.host, self.port = HOST, self._sock.getsockname()[1]
        self.accepted = []
        self.received = bytearray()
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        deadline = time.monotonic() + 120   # stops by itself in any case
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                c, _ = self._sock.accept()
                c.setblocking(False)
                self.accepted.append(c)
            except socket.timeout:
                pass
            except OSError:
                break
            for c in self.accepted:
                try:
                    self.received += c.recv(65536)
                except (BlockingIOError, OSError):
                    pass

    def stop(self):
        self._stop.set()
        self._t.join(5)
        for c in self.accepted:
            c.close()
        self._sock.close()


# --------------------------------------------------------------------------
# Postfix's smtp-sink: a fast C server for the large-message tests
# --------------------------------------------------------------------------

SMTP_SINK = "/usr/sbin/smtp-sink"


class SmtpSink:
    """Postfix's smtp-sink on a free 127.0.0.1 port, dumping each message it
    receives into its own file (smtp-sink's format: X-Client-*/X-Mail-Args/
    X-Rcpt-Args lines and a Received: header, then the DATA with LF line
    endings and dot-stuffing removed).  smtp-sink must drop privileges when
    started as root, so the dump directory is world-writable and outside the
    (root-only) pytest tree.  It exits by itself after 10 minutes."""

    def __init__(self):
        import shutil
        import tempfile
        self._shutil = shutil
        self.dir = tempfile.mkdtemp(prefix="mailout-sink-")
        os.chmod(self.dir, 0o777)
        with socket.socket() as s:
            s.bind((HOST, 0))
            self.host, self.port = HOST, s.getsockname()[1]
        args = ["timeout", "600", SMTP_SINK, "-d", self.dir + "/%H%M%S.",
                "{}:{}".format(HOST, self.port), "10"]
        if os.geteuid() == 0:
            args[3:3] = ["-u", "nobody"]
        self._p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection((HOST, self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or self._p.poll() is not None:
                    self.stop()
                    raise RuntimeError("smtp-sink did not start")
                time.sleep(0.05)

    def dumps(self) -> List[str]:
        """The dump files of the messages received so far (sorted)."""
        # the connection probe above leaves no file: it sent no MAIL
        return sorted(os.path.join(self.dir, n) for n in os.listdir(self.dir))

    def stop(self):
        self._p.terminate()
        try:
            self._p.wait(5)
        except subprocess.TimeoutExpired:
            self._p.kill()
            self._p.wait()
        self._shutil.rmtree(self.dir, ignore_errors=True)
