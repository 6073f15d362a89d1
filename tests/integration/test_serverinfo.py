"""--serverinfo (issue 5): what the relay offers and the certificate it shows;
the printed pin pasted into tls_pin makes delivery work, a wrong one fails."""
import re

import pytest

from mailout_run import EX_OK, EX_UNAVAILABLE, full_message


def info(send, srv, **settings):
    res = send(srv, ["--serverinfo"], b"", **settings)
    assert res.rc == EX_OK, res
    return res.stdout


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_report_with_the_ca(smtpd, send, mode):
    srv = smtpd(mode, auth=True)
    out = info(send, srv, user=None, password=None)
    assert "greeting: 220" in out
    assert "AUTH" in out and "PLAIN" in out
    assert re.search(r"TLS: \(TLS1\.[23]\)", out), out
    assert "trust store: OK" in out and "verification: OK (by the trust store)" in out
    assert "tls_pin:" not in out.split("certificate 0")[0], "no pin set, none compared"
    assert re.search(r"subject: .*CN", out) and "issuer:" in out
    assert "not before:" in out and "not after:" in out
    assert re.search(r"SHA-256:\s+([0-9A-F]{2}:){31}[0-9A-F]{2}", out), out
    assert srv.certs.pin in out
    assert not any(c.upper().startswith(("MAIL", "AUTH")) for c in srv.commands())


def test_untrusted_relay_is_inspected_and_flagged(smtpd, send):
    srv = smtpd("starttls", cert="untrusted")
    out = info(send, srv)
    assert "trust store: FAILED" in out and "verification: FAILED" in out, out
    assert srv.certs.untrusted_pin in out, out
    assert srv.received_nothing()


def test_a_matching_pin_is_not_called_trust_store_verification(smtpd, send):
    """A self-signed relay with the right tls_pin: delivery trusts it by the
    pin, and the report says so without claiming the chain verifies."""
    srv = smtpd("starttls", cert="untrusted")
    out = info(send, srv, tls_trust_file=None, tls_pin=srv.certs.untrusted_pin)
    assert "trust store: FAILED" in out, out
    assert "tls_pin: matches the relay's key" in out and "verification: OK (by tls_pin)" in out
    wrong = "sha256//" + "A" * 43 + "="
    out = info(send, srv, tls_trust_file=None, tls_pin=wrong + ";" + srv.certs.untrusted_pin)
    assert "tls_pin: matches" in out, "any of several pins may match"
    out = info(send, srv, tls_trust_file=None, tls_pin=wrong)
    assert "tls_pin: DOES NOT MATCH" in out and "verification: FAILED (by tls_pin)" in out
    assert srv.received_nothing()


def test_starttls_capabilities_before_and_after(smtpd, send):
    srv = smtpd("starttls", auth=True)
    out = info(send, srv, user=None, password=None)
    before = out.split("capabilities (EHLO before STARTTLS):")[1].split("capabilities (")[0]
    after = out.split("capabilities (EHLO after STARTTLS):")[1].split("TLS:")[0]
    assert "STARTTLS" in before and "STARTTLS" not in after, out
    assert "AUTH" in after, out


def test_what_was_learnt_is_printed_when_the_probe_fails(server, send):
    """tls = starttls against a relay without STARTTLS: exit 69, and the
    greeting and capabilities that show why."""
    res = send(server, ["--serverinfo"], b"", tls="starttls")
    assert res.rc == EX_UNAVAILABLE, res
    assert "greeting: 220" in res.stdout and "capabilities (EHLO):" in res.stdout, res
    assert "TLS: not established" in res.stdout and "error: " in res.stdout, res
    assert res.stderr.startswith("mailout: ") and server.messages == []


def test_printed_pin_makes_delivery_work_and_a_wrong_pin_fails(smtpd, send):
    srv = smtpd("starttls", cert="untrusted")
    out = info(send, srv)
    pin = re.search(r"tls_pin: +(sha256//\S+)", out).group(1)
    res = send(srv, ["rcpt@example.com"], full_message(), tls_trust_file=None, tls_pin=pin)
    assert res.rc == EX_OK and len(srv.messages) == 1, res
    wrong = "sha256//" + "A" * 43 + "="
    res = send(srv, ["rcpt@example.com"], full_message(), tls_trust_file=None, tls_pin=wrong)
    assert res.rc == EX_UNAVAILABLE and len(srv.messages) == 1, res
    assert "tls_pin" in res.stderr


def test_plain_relay(server, send):
    out = info(send, server)
    assert "TLS: off" in out and "greeting: 220" in out
