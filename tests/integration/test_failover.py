"""Relay failover (SPEC 13): `host` may list several relays, tried in order.

A relay that cannot be reached, or answers the session (greeting, EHLO,
STARTTLS, AUTH) with 4xx, hands the message to the next one; a refusal of
the message itself (MAIL, RCPT, DATA, the final dot) is final.  The relays
run on one port of different loopback addresses (127.0.0.1, .2, .3: the
account has one port for all its relays).
"""
import re
import socket

import pytest

from mailout_run import EX_OK, EX_TEMPFAIL, EX_UNAVAILABLE, full_message, relay_config

ADDRS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]


class Down:
    """A relay address where connections are refused: bound, never listening."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))

    def stop(self):
        self.sock.close()


@pytest.fixture
def relays(smtpd):
    """relays(spec...): one relay per spec, on ADDRS in order and one port:
    "down" (connection refused), "ok", or a dict of smtpd() arguments."""
    downs = []

    def start(*specs):
        port, out = 0, []
        for addr, spec in zip(ADDRS, specs):
            if spec == "down":
                if not port:     # a port for all: the kernel picks it
                    probe = socket.socket()
                    probe.bind((addr, 0))
                    port = probe.getsockname()[1]
                    probe.close()
                d = Down(addr, port)
                downs.append(d)
                out.append(d)
            else:
                srv = smtpd(address=(addr, port), **({} if spec == "ok" else spec))
                port = srv.port
                out.append(srv)
        return out

    yield start
    for d in downs:
        d.stop()


def conf(mailout, rs, tmp_path, **globals_):
    g = {"logfile": str(tmp_path / "mail.log")}
    g.update(globals_)
    return mailout.write_config(relay_config(rs[0], globals_=g,
                                             host=[r.host for r in rs], port=rs[0].port))


def log_lines(tmp_path):
    p = tmp_path / "mail.log"
    return p.read_text().splitlines() if p.exists() else []


def send(mailout, config, args=("-v",)):
    return mailout.run([*args, "rcpt@example.com"], full_message(), config_file=config)


def test_one_relay_down(mailout, relays, tmp_path):
    down, up = relays("down", "ok")
    res = send(mailout, conf(mailout, [down, up], tmp_path))
    assert res.rc == EX_OK, res
    assert len(up.messages) == 1
    assert re.search(r"127\.0\.0\.1: .*trying the next relay, 127\.0\.0\.2", res.stderr), res
    assert "via 127.0.0.2" in res.stderr, res
    [line] = log_lines(tmp_path)
    assert "host=127.0.0.2 " in line and "exitcode=EX_OK" in line, line


def test_two_relays_down(mailout, relays, tmp_path):
    d1, d2, up = relays("down", "down", "ok")
    res = send(mailout, conf(mailout, [d1, d2, up], tmp_path))
    assert res.rc == EX_OK, res
    assert len(up.messages) == 1
    assert "trying the next relay, 127.0.0.2" in res.stderr
    assert "trying the next relay, 127.0.0.3" in res.stderr
    [line] = log_lines(tmp_path)
    assert "host=127.0.0.3 " in line, line


def test_all_down_queued(mailout, relays, tmp_path):
    rs = relays("down", "down")
    config = conf(mailout, rs, tmp_path, **mailout.private_queue())
    res = send(mailout, config, args=())
    assert res.rc == EX_OK and "queued" in res.stderr, res
    assert len(mailout.queued()) == 1
    [line] = log_lines(tmp_path)
    # The failure names the last relay tried and the ones given up before.
    assert "host=127.0.0.2 " in line and "given up before: 127.0.0.1" in line, line


def test_all_down_never_queue_is_tempfail(mailout, relays, tmp_path):
    rs = relays("down", "down")
    res = send(mailout, conf(mailout, rs, tmp_path), args=())
    assert res.rc == EX_TEMPFAIL, res
    assert "127.0.0.2" in res.stderr and "given up before: 127.0.0.1" in res.stderr, res


def test_5xx_to_the_message_is_final(mailout, relays, tmp_path):
    first, second = relays({"mail": "550 5.7.1 sender rejected"}, "ok")
    res = send(mailout, conf(mailout, [first, second], tmp_path))
    assert res.rc == EX_UNAVAILABLE, res
    assert "sender rejected" in res.stderr
    assert second.connections == [], "a refusal of the message is not retried elsewhere"


def test_4xx_to_the_message_is_not_failed_over(mailout, relays, tmp_path):
    first, second = relays({"data": "451 4.3.0 try later"}, "ok")
    res = send(mailout, conf(mailout, [first, second], tmp_path))
    assert res.rc == EX_TEMPFAIL, res
    assert len(first.refused) == 1
    assert second.connections == []


@pytest.mark.parametrize("fault", [
    {"greeting": "421 4.3.2 Service not available now"},
    {"ehlo": "421 4.7.0 Too busy for EHLO"},
    {"mode": "starttls", "starttls": "454 4.7.0 TLS not available now"},
    {"auth": True, "auth_reply": "454 4.7.0 Temporary authentication failure"},
], ids=["greeting", "ehlo", "starttls", "auth"])
def test_4xx_to_the_session_fails_over(mailout, relays, tmp_path, fault):
    first, second = relays(fault, {"mode": fault.get("mode", "plain"),
                                   "auth": fault.get("auth", False)})
    res = send(mailout, conf(mailout, [first, second], tmp_path))
    assert res.rc == EX_OK, res
    assert len(second.messages) == 1 and not first.messages
    [line] = log_lines(tmp_path)
    assert "host=127.0.0.2 " in line, line


def test_silent_first_relay_times_out_and_fails_over(mailout, smtpd, silent_server, tmp_path):
    """No greeting within timeout (5 s in these tests): the next relay."""
    up = smtpd(address=("127.0.0.2", silent_server.port))
    res = send(mailout, conf(mailout, [silent_server, up], tmp_path))
    assert res.rc == EX_OK, res
    assert silent_server.accepted and len(up.messages) == 1
    assert "trying the next relay, 127.0.0.2" in res.stderr


def test_5xx_greeting_is_final(mailout, relays, tmp_path):
    first, second = relays({"greeting": "554 5.3.2 no service"}, "ok")
    res = send(mailout, conf(mailout, [first, second], tmp_path))
    assert res.rc == EX_UNAVAILABLE, res
    assert second.connections == []


def test_queue_run_stays_on_the_relay_that_works(mailout, relays, smtpd, tmp_path):
    """Queued while every relay was down; the run then finds the first down
    and the second up, and sends every message through the second, trying
    the first once."""
    d1, d2 = relays("down", "down")
    config = conf(mailout, [d1, d2], tmp_path, **mailout.private_queue())
    for n in range(3):
        assert mailout.run(["rcpt{}@example.com".format(n)], full_message(),
                           config_file=config).rc == EX_OK
    assert len(mailout.queued()) == 3
    d2.stop()
    up = smtpd(address=(d2.host, d2.port))
    res = mailout.run(["-q", "-v"], config_file=config)
    assert res.rc == EX_OK, res
    assert len(up.messages) == 3
    assert res.stderr.count("trying the next relay") == 1, res.stderr
    assert mailout.queued() == []
    assert all("host=127.0.0.2 " in l for l in log_lines(tmp_path)[-3:])


def test_show_config_lists_the_relays(mailout, relays, tmp_path):
    rs = relays("down", "ok")
    res = mailout.run(["--show-config"], config_file=conf(mailout, rs, tmp_path))
    assert res.rc == EX_OK, res
    assert re.search(r'host\s+= \{ "127\.0\.0\.1", "127\.0\.0\.2" \}', res.stdout), res.stdout


def test_single_host_string_still_works(mailout, server, tmp_path):
    res = mailout.run(["--show-config"], config_file=mailout.write_config(relay_config(server)))
    assert re.search(r'host\s+= "127\.0\.0\.1"', res.stdout), res.stdout
    assert send(mailout, mailout.write_config(relay_config(server))).rc == EX_OK
    assert len(server.messages) == 1


def test_serverinfo_uses_the_first_that_answers(mailout, relays, tmp_path):
    rs = relays("down", "ok")
    res = mailout.run(["--serverinfo"], config_file=conf(mailout, rs, tmp_path))
    assert res.rc == EX_OK, res
    assert "relay 127.0.0.2 port" in res.stdout, res.stdout
