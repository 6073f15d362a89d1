"""Exit statuses (SPEC 8) against misbehaving relays, and the stderr text.

Every configuration here says `queue = never` (there is no queue yet, and
with a queue the default `onfail` would exit 0 with "queued").

Assumptions (where SPEC.md / HACKING.md do not settle the detail):
- partial_delivery off (the default): when one recipient is refused with
  5xx, the message is delivered to nobody (the transaction is abandoned).
- partial_delivery on: the message goes to the accepted recipients, and
  the exit status is still 67 because a recipient was refused permanently.
- A 4xx reply to AUTH (454) is temporary: 75, not 77.
- A 5xx greeting is a permanent refusal: 69; a 421 greeting: 75.
- A 4xx reply to STARTTLS (454) is temporary: 75; a 5xx one: 69 (the relay
  offered STARTTLS: not "does not offer STARTTLS").
- The stderr text for a missing STARTTLS mentions "STARTTLS", and for a
  missing AUTH mentions "AUTH" (HACKING: "relay did not offer AUTH").
- Timeouts: with `timeout = 2`, mailout gives up within 15 seconds.
"""

import time

import pytest

from mailout_run import (EX_NOPERM, EX_NOUSER, EX_TEMPFAIL, EX_UNAVAILABLE,
                         assert_stderr_prefixed, full_message)
from raw_servers import AlertingTLSRelay, ClosingRelay, ScriptedRelay

RCPT = "rcpt@example.com"
MSG = full_message()


def check_failure(res, rc, reply_text=None):
    assert res.rc == rc, res
    assert_stderr_prefixed(res)
    if reply_text is not None:
        assert reply_text in res.stderr, "relay's reply text missing from stderr\n" + str(res)


# ---- refusals by the relay ------------------------------------------------

# One row per (stage, reply): the exit status SPEC 8 gives it, as in
# src/classify.c's table (tests/unit/test-classify.c walks all of it).
REFUSALS = [
    # fault      reply                                          exit status
    ("greeting", "421 4.3.2 Service shutting down",             EX_TEMPFAIL),
    ("greeting", "554 5.3.2 No SMTP service here",              EX_UNAVAILABLE),
    ("mail",     "451 4.3.0 Greylisted at MAIL, try later",     EX_TEMPFAIL),
    ("mail",     "553 5.7.1 Sender address rejected at MAIL",   EX_UNAVAILABLE),
    ("rcpt",     "450 4.2.1 Mailbox busy at RCPT",              EX_TEMPFAIL),
    ("rcpt",     "550 5.1.1 No such user here (RCPT)",          EX_NOUSER),
    # after the final dot; LIBRARY-NOTES trap 6: curl's error buffer is
    # empty for a refusal there, and the reply text must still reach stderr
    ("data",     "452 4.3.1 Insufficient storage after DATA",   EX_TEMPFAIL),
    ("data",     "554 5.7.1 Message content rejected: spam score 99", EX_UNAVAILABLE),
]


@pytest.mark.parametrize("fault,reply,status", REFUSALS)
def test_a_refusal_gives_its_stages_exit_status_and_the_relays_text(smtpd, send, fault,
                                                                    reply, status):
    srv = smtpd(**{fault: reply})
    res = send(srv, [RCPT], MSG)
    check_failure(res, status, reply[10:])
    assert not srv.messages
    if fault == "data":
        assert len(srv.refused) == 1


@pytest.mark.parametrize("reply", [
    "553 5.7.1 <sender@example.com>: Sender address rejected: Access denied",
    "550 5.1.8 <sender@example.com>: Sender address rejected: Domain not found"])
def test_sender_refused_at_rcpt_is_unavailable_and_says_sender(smtpd, send, reply):
    """Postfix refuses a blocked sender in reply to RCPT: the enhanced status
    code (RFC 3463 X.7.1 naming the sender, X.1.7, X.1.8) says the message's
    sender was refused, a permanent refusal of the message (69), not 67."""
    srv = smtpd(rcpt=reply)
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE, reply)
    assert "refused the sender" in res.stderr, res
    assert not srv.messages


def test_relay_text_reaches_stderr_without_control_characters(smtpd, send):
    """A relay's reply is shown, but no escape sequence or bell from it may
    reach the user's terminal."""
    srv = smtpd(data="554 5.7.1 \x1b[31mRED\x1b]0;pwned\x07\x08 rejected")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE, "rejected")
    assert not any(c in res.stderr for c in "\x1b\x07\x08"), repr(res.stderr)


def test_5xx_for_one_recipient_only_is_nouser_and_nothing_delivered(smtpd, send):
    bad = "bad@example.com"
    srv = smtpd(rcpt_for={bad: "550 5.1.1 <bad@example.com>: Recipient unknown"})
    res = send(srv, ["good@example.com", bad, "other@example.com"], MSG)
    check_failure(res, EX_NOUSER, "Recipient unknown")
    assert "bad@example.com" in res.stderr
    assert not srv.messages, "partial_delivery is off: nobody should get the message"


def test_partial_delivery_on_delivers_to_accepted_recipients(smtpd, send):
    """LIBRARY-NOTES trap 7."""
    bad = "bad@example.com"
    srv = smtpd(rcpt_for={bad: "550 5.1.1 <bad@example.com>: Recipient unknown"})
    res = send(srv, ["good@example.com", bad, "other@example.com"], MSG,
               partial_delivery=True)
    check_failure(res, EX_NOUSER, "Recipient unknown")
    assert len(srv.messages) == 1
    assert srv.messages[0].rcpt_tos == ["good@example.com", "other@example.com"]


def test_4xx_for_one_recipient_only_is_tempfail(smtpd, send):
    srv = smtpd(rcpt_for={"busy@example.com": "451 4.2.0 busy@example.com: try later"})
    res = send(srv, ["good@example.com", "busy@example.com"], MSG)
    check_failure(res, EX_TEMPFAIL, "try later")
    assert not srv.messages


# ---- the connection -------------------------------------------------------

def test_connection_refused_is_tempfail(refused_port, send):
    res = send(refused_port, [RCPT], MSG)
    check_failure(res, EX_TEMPFAIL)
    assert res.elapsed < 10


def test_silent_server_times_out_as_tempfail(silent_server, mailout):
    """LIBRARY-NOTES trap 9: the default wait per reply is 120 s; `timeout`
    must bound the wait for the greeting."""
    from mailout_run import relay_config
    res = mailout.run([RCPT], MSG, config=relay_config(silent_server, timeout=2), timeout=60)
    check_failure(res, EX_TEMPFAIL)
    assert res.elapsed < 15, "took {:.1f}s with timeout = 2".format(res.elapsed)
    assert silent_server.accepted, "mailout never connected"


def test_server_hanging_after_final_dot_times_out_as_tempfail(smtpd, mailout):
    srv = smtpd(hang_after_dot=60)
    from mailout_run import relay_config
    res = mailout.run([RCPT], MSG, config=relay_config(srv, timeout=2), timeout=60)
    check_failure(res, EX_TEMPFAIL)
    assert res.elapsed < 15, "took {:.1f}s with timeout = 2".format(res.elapsed)
    assert len(srv.hung) == 1, "the message should have reached the final dot"


def test_hung_relay_costs_one_timeout_not_two(smtpd, mailout):
    """libcurl 7.88 keeps a connection whose final dot timed out and, at
    cleanup, sends QUIT and waits for its reply as long again: a hung relay
    held cron jobs for twice the timeout.  Measured at the server, from the
    dot to the client going away (valgrind's slowness does not count)."""
    srv = smtpd(hang_after_dot=30)
    from mailout_run import relay_config
    res = mailout.run([RCPT], MSG, config=relay_config(srv, timeout=3), timeout=60)
    check_failure(res, EX_TEMPFAIL)
    conn = srv.connections[0]
    deadline = time.monotonic() + 10       # the server sees the close a moment later
    while conn.closed_at is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert conn.hung_at is not None and conn.closed_at is not None
    waited = conn.closed_at - conn.hung_at
    assert waited < 5, "the client stayed {:.1f}s after the dot with timeout = 3".format(waited)
    assert b"QUIT" not in bytes(conn.wire_in), "QUIT reached a relay that stopped answering"


def test_connection_dropped_during_data_is_tempfail(smtpd, send):
    srv = smtpd(drop_during_data=2000)
    body = "".join("line %06d of a message that is long enough\n" % i for i in range(20000))
    res = send(srv, ["-i", RCPT], full_message(body=body))
    check_failure(res, EX_TEMPFAIL)
    assert srv.connections and srv.connections[0].dropped, "the server did not drop"
    assert not srv.messages


# ---- TLS ------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_untrusted_certificate_is_unavailable(smtpd, send, mode):
    srv = smtpd(mode, cert="untrusted")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE)
    assert srv.received_nothing()


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_certificate_for_another_name_is_unavailable(smtpd, send, mode):
    srv = smtpd(mode, cert="wrongname")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE)
    assert srv.received_nothing()


def test_system_trust_store_does_not_trust_the_test_ca(smtpd, send):
    """No tls_trust_file: the system store applies, and our CA is not in it."""
    srv = smtpd("starttls")
    res = send(srv, [RCPT], MSG, tls_trust_file=None)
    check_failure(res, EX_UNAVAILABLE)
    assert srv.received_nothing()


def test_wrong_tls_pin_is_unavailable(smtpd, send, certs):
    srv = smtpd("starttls")
    res = send(srv, [RCPT], MSG, tls_pin=certs.untrusted_pin)
    check_failure(res, EX_UNAVAILABLE)
    assert srv.received_nothing()


def test_smtps_against_a_plain_port_says_to_use_starttls(smtpd, send):
    """tls = smtps on a port that greets in plain text (587, 25): GnuTLS
    reads the greeting as a broken TLS record.  Still temporary (the relay
    may be changing), but the error says which setting fits."""
    srv = smtpd("plain")
    res = send(srv, [RCPT], MSG, tls="smtps")
    check_failure(res, EX_TEMPFAIL, "tls = starttls")
    assert "port {}".format(srv.port) in res.stderr, res
    assert not srv.messages


def test_starttls_against_port_465_says_to_use_smtps(mailout):
    """Port 465 speaks TLS from the first byte and sends no greeting until
    the handshake: tls = starttls there waits out the timeout.  The error
    names the likely mistake."""
    from smtpd_fixtures import SilentServer
    from mailout_run import relay_config
    try:
        srv = SilentServer(port=465)
    except OSError as e:
        pytest.skip("127.0.0.1:465 is not free here: {}".format(e))
    try:
        res = mailout.run([RCPT], MSG, config=relay_config(srv, tls="starttls", timeout=2),
                          timeout=60)
    finally:
        srv.stop()
    check_failure(res, EX_TEMPFAIL, "tls = smtps")
    assert srv.accepted, "mailout never connected"


def test_starttls_not_offered_is_unavailable_and_nothing_sent_in_plaintext(smtpd, send):
    srv = smtpd("plain")
    res = send(srv, [RCPT], MSG, tls="starttls", tls_trust_file=None)
    check_failure(res, EX_UNAVAILABLE)
    assert "starttls" in res.stderr.lower(), res
    assert srv.connections and srv.connections[0].ehlo, "mailout never talked to the relay"
    assert srv.received_nothing()
    assert b"Subject:" not in srv.wire_in()


def test_4xx_to_starttls_is_tempfail_and_nothing_sent_in_plaintext(smtpd, send):
    """STARTTLS offered, then refused for now (454): a 4xx like any other
    (75), not "does not offer STARTTLS" (69)."""
    srv = smtpd("starttls", starttls="454 4.7.0 TLS not available right now")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_TEMPFAIL, "TLS not available right now")
    assert srv.received_nothing()


def test_5xx_to_starttls_is_unavailable_with_reply_text(smtpd, send):
    srv = smtpd("starttls", starttls="554 5.7.0 No TLS for you")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE, "No TLS for you")
    assert srv.received_nothing()


# ---- AUTH -----------------------------------------------------------------

def test_credentials_but_auth_not_offered_is_unavailable_and_nothing_sent(smtpd, send):
    """LIBRARY-NOTES trap 4: curl would skip AUTH and send anyway."""
    srv = smtpd("starttls", auth=True, offer_auth=False)
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE)
    assert "auth" in res.stderr.lower(), res
    assert srv.received_nothing()


def test_credentials_but_auth_not_offered_plain_connection(smtpd, send):
    srv = smtpd("plain", auth=True, offer_auth=False)
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_UNAVAILABLE)
    assert srv.received_nothing()


def test_auth_not_offered_before_starttls_is_not_a_reason_to_skip_tls(smtpd, send):
    """AUTH is offered only after STARTTLS (aiosmtpd's default): mailout must
    do STARTTLS, then AUTH, then send."""
    srv = smtpd("starttls", auth=True)
    res = send(srv, [RCPT], MSG)
    assert res.rc == 0, res
    assert srv.messages and srv.messages[0].auth is not None


@pytest.mark.parametrize("mech", ["plain", "login"])
def test_wrong_password_is_noperm(smtpd, send, mech):
    srv = smtpd("starttls", auth=True, password="the-right-one")
    res = send(srv, [RCPT], MSG, password="Wr0ng-Passw0rd", auth=mech)
    check_failure(res, EX_NOPERM)
    assert "Wr0ng-Passw0rd" not in res.stderr and "Wr0ng-Passw0rd" not in res.stdout
    assert srv.received_nothing()
    assert any(not a.success for c in srv.connections for a in c.auth)


def test_wrong_password_error_has_relay_reply_text(smtpd, send):
    srv = smtpd("starttls", auth=True)
    res = send(srv, [RCPT], MSG, password="wrong")
    check_failure(res, EX_NOPERM, "Authentication credentials invalid")


def test_temporary_auth_failure_is_tempfail(smtpd, send):
    srv = smtpd("starttls", auth=True, auth_reply="454 4.7.0 Temporary authentication failure")
    res = send(srv, [RCPT], MSG)
    check_failure(res, EX_TEMPFAIL, "Temporary authentication failure")
    assert srv.received_nothing()


def test_auth_required_by_relay_but_no_credentials(smtpd, send):
    """The relay refuses MAIL with 530 (5xx at MAIL): permanent, 69."""
    srv = smtpd("starttls", auth=True, auth_required=True)
    res = send(srv, [RCPT], MSG, user=None, password=None)
    check_failure(res, EX_UNAVAILABLE, "Authentication required")
    assert not srv.messages


def test_passwordeval_failing_is_config_error(smtpd, send):
    srv = smtpd("starttls", auth=True)
    res = send(srv, [RCPT], MSG, password=None, passwordeval="exit 3")
    check_failure(res, 78)
    assert srv.received_nothing()


@pytest.mark.parametrize("command,stage", [("MAIL", "MAIL FROM"), ("RCPT", "RCPT TO"),
                                           ("DATA", "DATA")])
def test_a_connection_closed_mid_dialogue_names_the_stage(send, command, stage):
    """libcurl says QUIT on its way out; the error must name the command the
    relay dropped the connection at, not QUIT."""
    srv = ClosingRelay(command)
    try:
        res = send(srv, [RCPT], MSG, auth=None, user=None, password=None)
    finally:
        srv.stop()
    check_failure(res, EX_TEMPFAIL, "(at %s)" % stage)
    assert "QUIT" not in res.stderr, res


def scripted_send(mailout, srv, args, timeout):
    """Send MSG through srv with the account's timeout set to timeout."""
    from mailout_run import relay_config
    return mailout.run(args, MSG, config=relay_config(srv, timeout=timeout), timeout=60)


@pytest.mark.parametrize("command,stage", [("MAIL", "MAIL FROM"), ("RCPT", "RCPT TO"),
                                           ("DATA", "DATA")])
def test_a_relay_silent_after_a_command_costs_one_timeout(mailout, command, stage):
    """mailout.conf(5): timeout bounds the wait for each reply.  libcurl
    says QUIT after a reply timed out and would wait for QUIT's reply as
    long again; mailout does not wait for it.  Measured at the server."""
    srv = ScriptedRelay(command)
    try:
        res = scripted_send(mailout, srv, [RCPT], 3)
        waited = srv.waited()
    finally:
        srv.stop()
    check_failure(res, EX_TEMPFAIL, "(at %s)" % stage)
    assert waited < 5, "the client stayed {:.1f}s with timeout = 3".format(waited)


@pytest.mark.parametrize("command", ["MAIL", "RCPT", "DOT"])
def test_a_reply_cut_off_by_the_timeout_is_temporary(mailout, command):
    """A relay that sends half a reply line and stops: the timeout ends it,
    and a timeout is temporary (75), said as such, not a protocol error."""
    srv = ScriptedRelay(command, reply=b"25")
    try:
        res = scripted_send(mailout, srv, [RCPT], 2)
    finally:
        srv.stop()
    check_failure(res, EX_TEMPFAIL)
    assert "timed out" in res.stderr.lower() or "timeout" in res.stderr.lower(), res
    assert "protocol" not in res.stderr, res


def test_c1_controls_in_a_reply_never_reach_stderr(mailout):
    """C1 control characters (CSI 0x9b and its UTF-8 form U+009B) in a
    relay's reply are filtered like C0 ones, in the message and in -v."""
    srv = ScriptedRelay("MAIL", reply=b"550 5.7.1 \xc2\x9b31m red \x9b0m bad \xc3\xa9\r\n", hang=2)
    try:
        res = scripted_send(mailout, srv, ["-v", RCPT], 3)
    finally:
        srv.stop()
    assert res.rc == EX_UNAVAILABLE, res
    assert b"\x9b" not in res.err, res.err
    assert "?31m red ?0m bad \u00e9" in res.stderr, res


def test_no_descriptor_left_for_the_socket_says_so(mailout, smtpd, tmp_path):
    """socket() failing with EMFILE (ulimit -n) is "too many open files",
    not libcurl's "Couldn't connect to server"; still temporary (75).  The
    limit at which the socket is the first descriptor refused depends on
    the build, so the limits are tried in turn."""
    import os
    from mailout_run import Mailout, relay_config
    with open(os.path.realpath(mailout.bin), "rb") as f:
        if f.read(2) == b"#!":
            pytest.skip("mailout runs under a wrapper (valgrind), whose own descriptors "
                        "the limit would count")
    srv = smtpd("plain")
    conf = mailout.write_config(relay_config(srv, timeout=3))
    seen = []
    for n in range(4, 16):
        wrapper = tmp_path / "ulimit-{}".format(n)
        wrapper.write_text('#!/bin/sh\nulimit -n {}\nexec "{}" "$@"\n'.format(n, mailout.bin))
        os.chmod(wrapper, 0o755)
        res = Mailout(mailout.tmp, binary=str(wrapper)).run(["-C", str(conf), RCPT], MSG)
        seen.append((n, res.rc, res.stderr.strip()))
        assert "Couldn't connect" not in res.stderr, seen
        if "too many open files" in res.stderr:
            assert res.rc == EX_TEMPFAIL, seen
            return
    pytest.fail("no limit made socket() fail: {}".format(seen))


def test_a_tls_alert_from_the_relay_is_named_as_the_relays(mailout, certs):
    """A fatal TLS alert the relay sends is the relay's doing: say so, and
    which alert, instead of libcurl's bare "gnutls_handshake() failed:
    <alert>" that reads like mailout's own fault.  Temporary (75)."""
    from mailout_run import relay_config
    srv = AlertingTLSRelay(certs)
    try:
        res = mailout.run([RCPT], MSG, config=relay_config(srv, tls="smtps",
                                                            tls_trust_file=certs.ca),
                          timeout=60)
    finally:
        srv.stop()
    check_failure(res, EX_TEMPFAIL)
    assert "127.0.0.1 sent a fatal TLS alert" in res.stderr, res
    assert "Error in protocol version" in res.stderr, res   # GnuTLS's name for it
