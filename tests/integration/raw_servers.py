"""Servers on raw sockets for what aiosmtpd cannot do: a scripted SMTP relay
that breaks the protocol on purpose (RawRelay), one that drops the connection
at a chosen command (ClosingRelay), one that stops answering at a chosen
command (ScriptedRelay), a TLS relay that answers with a fatal alert
(AlertingTLSRelay), one that records each transaction of a large envelope
(EnvelopeRelay), and a SOCKS5 proxy (Socks5Proxy).  Each
listens on 127.0.0.1 in a thread of its own; stop() ends it.  The pytest
fixtures raw_relay and socks (conftest.py) start them and stop them at teardown.
"""

import asyncio
import base64
import socket
import ssl
import threading
import time
import warnings

# The credentials RawRelay(auth=True) accepts, and its stages.
USER = "hostile-user@example.com"
PASSWORD = "Hst1le-S3cret-pw"
STAGES = ("greeting", "ehlo", "auth", "mail", "rcpt", "data", "body", "dot", "quit")


class RawServer:
    """A listening socket on 127.0.0.1 and a thread that accepts connections
    (one, or every one with many=True) and hands each to self.handle(conn);
    stop() closes the socket, which ends the thread."""

    def __init__(self, many=False, backlog=4):
        self.many = many
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.sock.settimeout(None if many else 30)
        self.host, self.port = "127.0.0.1", self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            if self.many:
                c.settimeout(20)
            try:
                with c:
                    self.handle(c)
            except OSError:
                pass        # the client went away: not the server's business
            if not self.many:
                return

    def handle(self, conn):
        raise NotImplementedError

    def stop(self):
        self.sock.close()


class RawRelay:
    """An SMTP relay on 127.0.0.1 written on asyncio streams (one loop in a
    thread), following a script:

      auth        offer AUTH PLAIN LOGIN and accept USER / PASSWORD
      split       send every reply in writes of 1 to 3 bytes (TCP_NODELAY,
                  a pause after each, so the client reads them apart)
      long_reply  {stage: n}: at that stage, a reply line of n bytes
                  (EHLO: an extra multi-line capability; else 250 + text)
      bogus       {stage: bytes}: send these bytes instead of the reply
                  (HELO shares "ehlo" unless "helo" is given)
      close_at    close the connection at that stage instead of replying
                  ("body": after the first DATA line arrives)
      starttls_garbage  offer STARTTLS, answer 220, then send junk that is
                  no TLS record, and close; True: junk right after the
                  220, "delayed": once the client has started its handshake
      chatter     in AUTH LOGIN, a line with no reply code before the
                  password's 334 (libcurl reads past it)

    Records the bytes received, AUTH lines, and every message: `messages`
    when it answered the final dot with 250, `unanswered` when it took the
    whole message but answered the dot with something else (or nothing).
    """

    def __init__(self, *, auth=True, split=False, long_reply=None, bogus=None,
                 close_at=None, starttls_garbage=False, chatter=False):
        assert close_at in (None,) + STAGES
        self.auth, self.split = auth, split
        self.long_reply = long_reply or {}
        self.bogus = bogus or {}
        self.close_at, self.starttls_garbage = close_at, starttls_garbage
        self.chatter = chatter
        self.wire_in = bytearray()
        self.auth_lines = []
        self.authenticated = 0
        self.messages, self.unanswered = [], []
        self.connections = 0
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("relay did not start")
        self.host = "127.0.0.1"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(
            self._client, "127.0.0.1", 0, limit=1 << 24))
        self.port = self.server.sockets[0].getsockname()[1]
        self._started.set()
        self.loop.run_forever()

    def stop(self):
        async def shut():
            self.server.close()
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.wait_closed()
        try:
            asyncio.run_coroutine_threadsafe(shut(), self.loop).result(5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(5)
            self.loop.close()

    async def _send(self, w, data):
        if not self.split:
            w.write(data)
            await w.drain()
            return
        i, k = 0, 0
        while i < len(data):
            n = 1 + k % 3
            w.write(data[i:i + n])
            await w.drain()
            await asyncio.sleep(0.001)
            i, k = i + n, k + 1

    async def _reply(self, w, stage, normal):
        """Reply normal at stage, unless the script says otherwise.
        Returns False when the connection is to be closed."""
        if self.close_at == stage:
            return False
        if stage in self.bogus:
            await self._send(w, self.bogus[stage])
            return True
        if stage in self.long_reply and stage != "ehlo":
            normal = normal[:4] + b"x" * self.long_reply[stage] + b"\r\n"
        await self._send(w, normal)
        return True

    async def _line(self, r):
        line = await r.readline()
        if not line:
            raise EOFError
        self.wire_in += line
        return line.rstrip(b"\r\n")

    async def _client(self, r, w):
        self.connections += 1
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await self._session(r, w)
        except (EOFError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            w.transport.abort() if self.close_at else w.close()

    async def _session(self, r, w):
        if not await self._reply(w, "greeting", b"220 raw.test.invalid ESMTP\r\n"):
            return
        mail_from, rcpts = None, []
        while True:
            line = await self._line(r)
            verb = line.split(b" ", 1)[0].upper()
            if verb in (b"EHLO", b"HELO"):
                caps = [b"raw.test.invalid", b"8BITMIME", b"PIPELINING"]
                if "ehlo" in self.long_reply:
                    caps.append(b"X-LONG " + b"L" * self.long_reply["ehlo"])
                if self.starttls_garbage:
                    caps.append(b"STARTTLS")
                if self.auth:
                    caps.append(b"AUTH PLAIN LOGIN")
                caps.append(b"SIZE 100000000")
                text = b"".join(b"250-" + c + b"\r\n" for c in caps[:-1])
                stage = "helo" if verb == b"HELO" and "helo" in self.bogus else "ehlo"
                if not await self._reply(w, stage, text + b"250 " + caps[-1] + b"\r\n"):
                    return
            elif verb == b"STARTTLS" and self.starttls_garbage:
                await self._send(w, b"220 2.0.0 go ahead\r\n")
                if self.starttls_garbage == "delayed":
                    await asyncio.sleep(0.3)    # after the client's ClientHello
                w.write(b"\x16\x03\x03\x00\x05garbage\xff\xfe\x00" * 64 + b"\r\n")
                await w.drain()
                await asyncio.sleep(0.3)
                return
            elif verb == b"AUTH":
                self.auth_lines.append(bytes(line))
                parts = line.split()
                mech = parts[1].upper() if len(parts) > 1 else b""
                if mech == b"PLAIN":
                    resp = parts[2] if len(parts) > 2 else None
                    if resp is None:
                        await self._send(w, b"334 \r\n")
                        resp = await self._line(r)
                        self.auth_lines.append(bytes(resp))
                    try:
                        _, u, p = base64.b64decode(resp).split(b"\0")
                        good = (u.decode(), p.decode()) == (USER, PASSWORD)
                    except Exception:
                        good = False
                elif mech == b"LOGIN":
                    await self._send(w, b"334 VXNlcm5hbWU6\r\n")
                    u = await self._line(r)
                    if self.chatter:
                        await self._send(w, b"chatter with no reply code\r\n")
                    await self._send(w, b"334 UGFzc3dvcmQ6\r\n")
                    p = await self._line(r)
                    self.auth_lines += [bytes(u), bytes(p)]
                    good = (base64.b64decode(u).decode(), base64.b64decode(p).decode()) == \
                        (USER, PASSWORD)
                else:
                    await self._send(w, b"504 5.5.4 unrecognised mechanism\r\n")
                    continue
                self.authenticated += good
                if not await self._reply(w, "auth", b"235 2.7.0 ok\r\n" if good else
                                         b"535 5.7.8 bad credentials\r\n"):
                    return
            elif verb == b"MAIL":
                mail_from, rcpts = bytes(line), []
                if not await self._reply(w, "mail", b"250 2.1.0 ok\r\n"):
                    return
            elif verb == b"RCPT":
                rcpts.append(bytes(line))
                if not await self._reply(w, "rcpt", b"250 2.1.5 ok\r\n"):
                    return
            elif verb == b"DATA":
                if not await self._reply(w, "data", b"354 go ahead\r\n"):
                    return
                data = bytearray()
                while True:
                    l = await self._line(r)
                    if self.close_at == "body":
                        return
                    if l == b".":
                        break
                    data += (l[1:] if l.startswith(b".") else l) + b"\r\n"
                msg = (mail_from, rcpts, bytes(data))
                answered = self.close_at != "dot" and "dot" not in self.bogus
                (self.messages if answered else self.unanswered).append(msg)
                if not await self._reply(w, "dot", b"250 2.0.0 queued as R%d\r\n"
                                         % len(self.messages)):
                    return
            elif verb == b"QUIT":
                if await self._reply(w, "quit", b"221 2.0.0 bye\r\n"):
                    await asyncio.sleep(0.05)
                return
            elif verb in (b"RSET", b"NOOP"):
                await self._send(w, b"250 2.0.0 ok\r\n")
            else:
                await self._send(w, b"500 5.5.1 what\r\n")


class ClosingRelay(RawServer):
    """Greets, answers EHLO, and closes the connection when it sees the
    command given (a raw socket server: aiosmtpd cannot drop mid-dialogue)."""

    def __init__(self, close_at):
        self.close_at = close_at.encode()
        super().__init__()

    def handle(self, c):
        c.sendall(b"220 closing.test ESMTP\r\n")
        for line in c.makefile("rb"):
            if line.upper().startswith(self.close_at):
                return
            c.sendall(b"250-closing.test\r\n250 PIPELINING\r\n"
                      if line.upper().startswith(b"EHLO") else b"250 ok\r\n")


class Socks5Proxy:
    """A SOCKS5 proxy (no authentication, CONNECT only) on 127.0.0.1, in an
    asyncio loop of its own thread.  Records each CONNECT's (host, port);
    names listed in `hosts` resolve to 127.0.0.1 here (to show that the
    client left the name to the proxy)."""

    def __init__(self, hosts=()):
        self.requests = []
        self.hosts = set(hosts)
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()
        self._ready.wait(10)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self._ready.set()
        self.loop.run_forever()

    async def _pipe(self, reader, writer):
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def _client(self, reader, writer):
        try:
            ver, n = await reader.readexactly(2)
            await reader.readexactly(n)
            writer.write(b"\x05\x00")
            ver, cmd, _, atyp = await reader.readexactly(4)
            if atyp == 1:
                host = socket.inet_ntoa(await reader.readexactly(4))
            elif atyp == 3:
                host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
            else:
                host = socket.inet_ntop(socket.AF_INET6, await reader.readexactly(16))
            port = int.from_bytes(await reader.readexactly(2), "big")
            self.requests.append((host, port))
            try:
                r2, w2 = await asyncio.open_connection(
                    "127.0.0.1" if host in self.hosts else host, port)
            except OSError:
                writer.write(b"\x05\x05\x00\x01" + bytes(6))     # connection refused
                await writer.drain()
                writer.close()
                return
            writer.write(b"\x05\x00\x00\x01" + bytes(6))
            await writer.drain()
            await asyncio.gather(self._pipe(reader, w2), self._pipe(r2, writer))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    def stop(self):
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._t.join(5)


class ScriptedRelay(RawServer):
    """A raw socket relay that answers as a normal one would, except at the
    command named in `at` (MAIL, RCPT, DATA or DOT for the final dot), where
    it sends `reply` (bytes, possibly without a line end, possibly empty)
    and then stops answering for `hang` seconds.  It records when it
    stopped answering (hung_at), when the client went away (closed_at) and
    every byte received (wire_in)."""

    def __init__(self, at, reply=b"", hang=30):
        self.at, self.reply, self.hang = at.encode(), reply, hang
        self.hung_at = self.closed_at = None
        self.wire_in = bytearray()
        super().__init__()

    def _stall(self, c):
        c.sendall(self.reply)
        self.hung_at = time.monotonic()
        c.settimeout(self.hang)
        try:
            while True:
                data = c.recv(4096)
                if not data:
                    break
                self.wire_in += data
        except OSError:
            pass
        self.closed_at = time.monotonic()

    def handle(self, c):
        c.sendall(b"220 scripted.test ESMTP\r\n")
        f = c.makefile("rb")
        for line in f:
            self.wire_in += line
            cmd = line.upper()
            if cmd.startswith(self.at):
                return self._stall(c)
            if cmd.startswith(b"EHLO"):
                c.sendall(b"250-scripted.test\r\n250 PIPELINING\r\n")
            elif cmd.startswith(b"DATA"):
                c.sendall(b"354 go on\r\n")
                for body in f:
                    self.wire_in += body
                    if body == b".\r\n":
                        break
                if self.at == b"DOT":
                    return self._stall(c)
                c.sendall(b"250 2.0.0 ok\r\n")
            elif cmd.startswith(b"QUIT"):
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")

    def waited(self):
        """Seconds from the stall to the client going away."""
        deadline = time.monotonic() + 10   # the close is seen a moment later
        while self.closed_at is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert self.hung_at is not None and self.closed_at is not None, "no stall"
        return self.closed_at - self.hung_at


class AlertingTLSRelay(RawServer):
    """Implicit TLS (smtps) whose TLS stack only speaks TLS 1.1 or older:
    mailout offers TLS 1.2 and up, and the relay answers the ClientHello
    with a fatal alert (protocol_version)."""

    def __init__(self, certs):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(certs.cert, certs.key)
        with warnings.catch_warnings():     # TLS 1.1 is deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            self.ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        self.certs = certs
        super().__init__()

    def handle(self, c):
        try:
            self.ctx.wrap_socket(c, server_side=True).close()
        except (OSError, ssl.SSLError):
            pass


class EnvelopeRelay(RawServer):
    """A raw socket relay, connection after connection.  rcpt_reply(line)
    and mail_reply(n) (n: the transaction's number, from 1) give the reply
    to RCPT and MAIL; dot_reply(n) the bytes answering the final dot (then
    the connection is closed when close_after_dot).  Delivered transactions
    are in .transactions as (recipients, data)."""

    def __init__(self, rcpt_reply=None, mail_reply=None, dot_reply=None, close_after_dot=False,
                 ehlo=b"250-envelope.test\r\n250 PIPELINING\r\n"):
        self.ehlo = ehlo
        self.mail_lines = []
        self.rcpt_reply = rcpt_reply or (lambda line: b"250 2.1.5 ok\r\n")
        self.mail_reply = mail_reply or (lambda n: b"250 2.1.0 ok\r\n")
        self.dot_reply = dot_reply or (lambda n: b"250 2.0.0 ok\r\n")
        self.close_after_dot = close_after_dot
        self.transactions = []
        self.started = 0
        super().__init__(many=True, backlog=8)

    def handle(self, c):
        c.sendall(b"220 envelope.test ESMTP\r\n")
        f = c.makefile("rb")
        rcpts = []
        for line in f:
            cmd = line.upper()
            if cmd.startswith(b"EHLO"):
                c.sendall(self.ehlo)
            elif cmd.startswith(b"MAIL"):
                self.started += 1
                self.mail_lines.append(line.rstrip(b"\r\n").decode())
                rcpts = []
                c.sendall(self.mail_reply(self.started))
            elif cmd.startswith(b"RCPT"):
                reply = self.rcpt_reply(line)
                if reply.startswith(b"2"):
                    rcpts.append(line.split(b"<", 1)[1].split(b">", 1)[0].decode())
                c.sendall(reply)
            elif cmd.startswith(b"DATA"):
                c.sendall(b"354 go on\r\n")
                data = bytearray()
                for body in f:
                    if body == b".\r\n":
                        break
                    data += body
                self.transactions.append((rcpts, bytes(data)))
                c.sendall(self.dot_reply(self.started))
                if self.close_after_dot:
                    return
            elif cmd.startswith(b"QUIT"):
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 ok\r\n")
