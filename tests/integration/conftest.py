"""pytest fixtures for the mailout integration tests.

Fixtures:
  certs          (session) test CA, server certificates, pins (openssl CLI)
  smtpd          factory: smtpd(mode="plain"|"starttls"|"smtps", auth=..., cert=...,
                 mechanisms=..., user=..., password=..., <Faults fields>=...)
                 -> a running SMTPServer, stopped at teardown
  server         a plain SMTP server without AUTH
  refused_port   a 127.0.0.1 port that refuses connections
  silent_server  accepts TCP, never greets
  sink           Postfix's smtp-sink, dumping each message to a file (skips
                 the test when Postfix is not installed)
  mailout        a Mailout runner with a private HOME in tmp_path
  send           send(srv, args, stdin, **account_settings) -> Result, with a
                 configuration for srv written and passed with -C
  mount_namespace  skips the test unless a private mount namespace can be made
                 and mounted in (unshare -m; refused in a chroot whose / is not a
                 mount point, in a container without CAP_SYS_ADMIN)
  raw_relay      factory: raw_relay(**script) -> a running RawRelay (raw_servers.py)
  socks          factory: socks(hosts=()) -> a running Socks5Proxy (raw_servers.py)

Run with: /usr/bin/python3 -m pytest tests/integration
(MAILOUT_BIN=/path/to/mailout to test an out-of-tree build).
"""

import dataclasses
import os

import pytest

from mailout_run import MAILOUT_BIN, Mailout, mount_namespace_refused, relay_config
from raw_servers import RawRelay, Socks5Proxy
from smtpd_fixtures import (SMTP_SINK, Faults, RefusedPort, SilentServer, SmtpSink,
                            SMTPServer, make_certs)

FAULT_FIELDS = {f.name for f in dataclasses.fields(Faults)}


def pytest_report_header(config):
    return "mailout binary: {}{}".format(
        MAILOUT_BIN, "" if os.access(MAILOUT_BIN, os.X_OK) else " (MISSING)")


@pytest.fixture(scope="session")
def certs(tmp_path_factory):
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def smtpd(certs):
    servers = []

    def start(mode="plain", **kw):
        faults = kw.pop("faults", None)
        fk = {k: kw.pop(k) for k in list(kw) if k in FAULT_FIELDS}
        if faults is None:
            faults = Faults(**fk)
        else:
            assert not fk, "give either faults= or fault fields"
        s = SMTPServer(certs, mode, faults=faults, **kw)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


@pytest.fixture
def server(smtpd):
    return smtpd("plain")


@pytest.fixture
def refused_port():
    p = RefusedPort()
    yield p
    p.stop()


@pytest.fixture
def silent_server():
    s = SilentServer()
    yield s
    s.stop()


@pytest.fixture
def sink():
    if not os.access(SMTP_SINK, os.X_OK):
        pytest.skip("smtp-sink not installed (Debian package postfix)")
    s = SmtpSink()
    yield s
    s.stop()


@pytest.fixture
def mailout(tmp_path):
    if not os.access(MAILOUT_BIN, os.X_OK):
        pytest.fail("mailout binary not found: {} (build it, or set MAILOUT_BIN)".format(
            MAILOUT_BIN))
    return Mailout(tmp_path)


@pytest.fixture
def mount_namespace():
    why = mount_namespace_refused()
    if why:
        pytest.skip("needs a private mount namespace: " + why)


@pytest.fixture
def send(mailout):
    """send(srv, args, stdin, *, env=None, timeout=30, globals_=None, extra="",
    **account_settings): run mailout with a configuration for srv."""

    def run(srv, args=(), stdin=b"", *, env=None, timeout=30, globals_=None, extra="",
            **settings):
        conf = relay_config(srv, globals_=globals_, extra=extra, **settings)
        return mailout.run(list(args), stdin, config=conf, env=env, timeout=timeout)

    return run


@pytest.fixture
def raw_relay():
    relays = []

    def start(**kw):
        r = RawRelay(**kw)
        relays.append(r)
        return r

    yield start
    for r in relays:
        r.stop()



@pytest.fixture
def socks():
    proxies = []

    def start(**kw):
        p = Socks5Proxy(**kw)
        proxies.append(p)
        return p

    yield start
    for p in proxies:
        p.stop()
