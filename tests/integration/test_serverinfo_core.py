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
    assert "verification: OK" in out
    assert re.search(r"subject: .*CN", out) and "issuer:" in out
    assert "not before:" in out and "not after:" in out
    assert re.search(r"SHA-256:\s+([0-9A-F]{2}:){31}[0-9A-F]{2}", out), out
    assert srv.certs.pin in out
    assert not any(c.upper().startswith(("MAIL", "AUTH")) for c in srv.commands())


def test_untrusted_relay_is_inspected_and_flagged(smtpd, send):
    srv = smtpd("starttls", cert="untrusted")
    out = info(send, srv)
    assert "verification: FAILED" in out and srv.certs.untrusted_pin in out, out
    assert srv.received_nothing()


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
