"""partial_delivery (SPEC 2, issue 5): with it on, a message goes to the
recipients the relay accepted; each refused one is named on stderr and in the
log with the relay's reply; 5xx refusals make the exit status 67 and 4xx ones
are queued.  With it off (the default) any refusal stops the whole message."""
import re

import pytest

from mailout_run import EX_NOUSER, EX_OK, EX_PROTOCOL, full_message, relay_config
from mailout_run import queued

GOOD, BAD, LATER = "good@example.com", "bad@example.com", "later@example.com"
FAULTS = {"rcpt_for": {BAD: "550 5.1.1 <bad@example.com>: no such user here",
                       LATER: "451 4.2.0 mailbox busy, try later"}}


def run(smtpd, send, tmp_path, partial, rcpts, queue="never"):
    srv = smtpd("plain", **FAULTS)
    log = tmp_path / "mail.log"
    res = send(srv, rcpts, full_message(), partial_delivery=partial,
               globals_={"logfile": str(log), "queue": queue,
                         "queue_dir": str(tmp_path / "queue")})
    return srv, res, (log.read_text() if log.exists() else "")


def test_on_delivers_to_the_accepted_and_names_the_refused(smtpd, send, tmp_path):
    srv, res, log = run(smtpd, send, tmp_path, True, [GOOD, BAD])
    assert res.rc == EX_NOUSER, res
    assert len(srv.messages) == 1 and srv.messages[0].rcpt_tos == [GOOD]
    assert re.search(r"^mailout: .*bad@example\.com.*550 5\.1\.1", res.stderr, re.M), res
    good = [l for l in log.splitlines() if "recipients=good@example.com" in l]
    bad = [l for l in log.splitlines() if "recipients=bad@example.com" in l]
    assert good and "exitcode=EX_OK" in good[0], log
    assert bad and "smtpstatus=550" in bad[0] and "no such user here" in bad[0] \
        and "exitcode=EX_NOUSER" in bad[0], log


def test_off_refuses_the_whole_message(smtpd, send, tmp_path):
    srv, res, log = run(smtpd, send, tmp_path, False, [GOOD, BAD])
    assert res.rc == EX_NOUSER, res
    assert srv.messages == [], "nothing may be delivered when partial_delivery is off"
    assert "bad@example.com" in res.stderr and "550 5.1.1" in res.stderr, res
    assert "exitcode=EX_NOUSER" in log


def test_off_is_the_default(smtpd, send, tmp_path):
    srv = smtpd("plain", **FAULTS)
    res = send(srv, [GOOD, BAD], full_message())
    assert res.rc == EX_NOUSER and srv.messages == [], res


def test_on_queues_the_temporarily_refused_recipient(smtpd, send, mailout, tmp_path):
    srv, res, log = run(smtpd, send, tmp_path, True, [GOOD, LATER], queue="onfail")
    # The deferred recipient is kept: nothing was refused for good.
    assert res.rc == EX_OK, res
    assert "queued as" in res.stderr and "later@example.com" in res.stderr, res
    assert len(srv.messages) == 1 and srv.messages[0].rcpt_tos == [GOOD]
    q = queued(tmp_path)
    assert len(q) == 1
    envelope = q[0].read_bytes().split(b"\n\n", 1)[0].decode()
    assert "rcpt later@example.com" in envelope and GOOD not in envelope, envelope
    # -bp's last error is the relay's own reply, not a pointer to stderr.
    conf = res.args[res.args.index("-C") + 1]
    bp = mailout.run(["-bp"], config_file=conf)
    assert "451 4.2.0 mailbox busy, try later" in bp.stdout, bp
    assert "see above" not in bp.stdout, bp


def test_on_with_several_refused_names_the_worst_and_counts(smtpd, send, tmp_path):
    srv, res, log = run(smtpd, send, tmp_path, True, [GOOD, LATER, BAD])
    assert res.rc == EX_NOUSER, res
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("mailout: 2 of 3 recipients not accepted by ") and \
        "later@example.com: 451 4.2.0 mailbox busy" in last and \
        "bad@example.com: 550 5.1.1 <bad@example.com>" in last, res


def test_mixed_refusals_leave_the_queued_recipient_its_own_reply(smtpd, send, mailout,
                                                                tmp_path):
    """-bp's last error for the recipient left queued (451) is not only the
    other one's permanent refusal (550)."""
    srv, res, log = run(smtpd, send, tmp_path, True, [GOOD, BAD, LATER], queue="onfail")
    assert res.rc == EX_NOUSER and "queued as" in res.stderr, res
    bp = mailout.run(["-bp"], config_file=res.args[res.args.index("-C") + 1])
    assert "451 4.2.0 mailbox busy, try later" in bp.stdout, bp


def test_on_with_every_recipient_refused_is_a_plain_refusal(smtpd, send, tmp_path):
    srv, res, log = run(smtpd, send, tmp_path, True, [BAD])
    assert res.rc == EX_NOUSER and srv.messages == [], res


@pytest.mark.parametrize("queue", ["never", "onfail"])
def test_on_with_a_bogus_reply_to_one_recipient(smtpd, send, tmp_path, queue):
    """A reply RCPT cannot get (a 1xx, a 3xx) refuses the recipient for
    libcurl, which goes on with the others: that recipient did not get the
    message, and the relay broke the protocol (76, or queued like a 4xx)."""
    weird = "weird@example.com"
    srv = smtpd("plain", rcpt_for={weird: "150 weird"})
    log = tmp_path / "mail.log"
    res = send(srv, [GOOD, weird], full_message(), partial_delivery=True,
               globals_={"logfile": str(log), "queue": queue,
                         "queue_dir": str(tmp_path / "queue")})
    assert res.rc == (EX_PROTOCOL if queue == "never" else EX_OK), res
    assert len(srv.messages) == 1 and srv.messages[0].rcpt_tos == [GOOD]
    assert re.search(r"^mailout: .*weird@example\.com.*150 weird", res.stderr, re.M), res
    lines = log.read_text().splitlines()
    bad = [l for l in lines if "recipients=" + weird in l]
    assert bad and "smtpstatus=150 smtpmsg='150 weird'" in bad[0] \
        and "exitcode=EX_PROTOCOL" in bad[0], lines
    q = queued(tmp_path)
    if queue == "never":
        assert q == []
    else:
        assert "queued as" in res.stderr, res
        assert len(q) == 1
        envelope = q[0].read_bytes().split(b"\n\n", 1)[0].decode()
        assert "rcpt " + weird in envelope and GOOD not in envelope, envelope


# ---- a recipient refused, then the transaction deferred or refused ----------
#
# With partial_delivery on, libcurl goes past a refused RCPT to DATA: a later
# failure (DATA, the final dot) is the transaction's, for the recipients the
# relay accepted; the refused recipient keeps its own refusal.

A, B, C = "a@example.com", "b@example.com", "c@example.com"
NOPE = "550 5.1.1 nope"
LATER_DATA = "451 4.3.0 try later"


def envelope_rcpts(path):
    env = path.read_bytes().split(b"\n\n", 1)[0].decode()
    return sorted(l.split(" ", 1)[1] for l in env.splitlines() if l.startswith("rcpt "))


def refused_then(smtpd, at, reply):
    """A relay that refuses B at RCPT, then answers DATA (at="data_cmd") or
    the final dot (at="data") with reply."""
    return smtpd("plain", rcpt_for={B: NOPE}, **{at: reply})


def send_abc(send, srv, tmp_path, queue, partial=True):
    log = tmp_path / "mail.log"
    res = send(srv, [A, B, C], full_message(), partial_delivery=partial,
               globals_={"logfile": str(log), "queue": queue,
                         "queue_dir": str(tmp_path / "queue")})
    return res, (log.read_text().splitlines() if log.exists() else [])


@pytest.mark.parametrize("at", ["data_cmd", "data"])
def test_refused_rcpt_then_4xx_keeps_the_others_queued(smtpd, send, mailout, tmp_path, at):
    srv = refused_then(smtpd, at, LATER_DATA)
    res, log = send_abc(send, srv, tmp_path, "onfail")
    # As with a 5xx and a 4xx at RCPT: one recipient refused for good (67),
    # the deferred ones queued.
    assert res.rc == EX_NOUSER, res
    assert srv.messages == [], res
    assert re.search(r"^mailout: .*b@example\.com.*550 5\.1\.1 nope", res.stderr, re.M), res
    assert "451 4.3.0 try later" in res.stderr, res
    assert "queued as" in res.stderr, res
    q = queued(tmp_path)
    assert len(q) == 1 and envelope_rcpts(q[0]) == [A, C], res
    b = [l for l in log if "recipients=" + B in l]
    ac = [l for l in log if "recipients=a@example.com,c@example.com" in l]
    assert b and "smtpstatus=550" in b[0] and "exitcode=EX_NOUSER" in b[0], log
    assert ac and "smtpstatus=451" in ac[0] and "try later" in ac[0] \
        and "exitcode=EX_TEMPFAIL" in ac[0], log
    bp = mailout.run(["-bp"], config_file=res.args[res.args.index("-C") + 1])
    assert "451 4.3.0 try later" in bp.stdout, bp
    # The next run delivers to the two left, not to the refused one.
    good = smtpd("plain")
    conf = mailout.write_config(relay_config(good, partial_delivery=True, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue")}))
    run = mailout.run(["-q"], config_file=conf)
    assert run.rc == EX_OK, run
    assert [m.rcpt_tos for m in good.messages] == [[A, C]], run
    assert queued(tmp_path) == []


@pytest.mark.parametrize("at", ["data_cmd", "data"])
def test_refused_rcpt_then_4xx_with_queue_never(smtpd, send, tmp_path, at):
    srv = refused_then(smtpd, at, LATER_DATA)
    res, log = send_abc(send, srv, tmp_path, "never")
    assert res.rc == EX_NOUSER, res
    assert re.search(r"^mailout: .*b@example\.com.*550 5\.1\.1 nope", res.stderr, re.M), res
    assert "451 4.3.0 try later" in res.stderr, res
    assert "queued" not in res.stderr and queued(tmp_path) == [], res


@pytest.mark.parametrize("at", ["data_cmd", "data"])
def test_refused_rcpt_then_4xx_in_a_queue_run(smtpd, send, mailout, refused_port,
                                               tmp_path, at):
    """In a queue run the two deferred recipients stay queued (the envelope
    names only them); the refused one is not tried again."""
    res, _ = send_abc(send, refused_port, tmp_path, "onfail")
    assert res.rc == EX_OK and len(queued(tmp_path)) == 1, res
    srv = refused_then(smtpd, at, LATER_DATA)
    conf = mailout.write_config(relay_config(srv, partial_delivery=True, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue"),
        "logfile": str(tmp_path / "mail.log")}))
    run = mailout.run(["-q"], config_file=conf)
    assert queued(tmp_path, "failed") == [], run
    q = queued(tmp_path)
    assert len(q) == 1 and envelope_rcpts(q[0]) == [A, C], run
    assert "451 4.3.0 try later" in run.stderr and "550 5.1.1 nope" in run.stderr, run
    good = smtpd("plain")
    conf = mailout.write_config(relay_config(good, partial_delivery=True, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue")}))
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert [m.rcpt_tos for m in good.messages] == [[A, C]]
    assert queued(tmp_path) == []


@pytest.mark.parametrize("queue", ["never", "onfail"])
def test_refused_rcpt_with_partial_delivery_off_still_stops_all(smtpd, send, tmp_path, queue):
    srv = refused_then(smtpd, "data_cmd", LATER_DATA)
    res, log = send_abc(send, srv, tmp_path, queue, partial=False)
    assert res.rc == EX_NOUSER, res
    assert "550 5.1.1 nope" in res.stderr and "451" not in res.stderr, res
    assert not any(c.upper() == "DATA" for c in srv.commands()), srv.commands()
    assert queued(tmp_path) == [] and "queued" not in res.stderr, res
    assert any("recipients=a@example.com,b@example.com,c@example.com" in l and
               "smtpstatus=550" in l and "exitcode=EX_NOUSER" in l for l in log), log


@pytest.mark.parametrize("at", ["data_cmd", "data"])
def test_refused_rcpt_then_5xx_refuses_everyone(smtpd, send, mailout, refused_port,
                                                tmp_path, at):
    """Everyone refused for good: the first refusal (B's 550) is the exit
    status, both replies are reported, nothing is queued; in a queue run the
    message moves to failed/."""
    srv = refused_then(smtpd, at, "554 5.7.1 no thanks")
    res, log = send_abc(send, srv, tmp_path, "onfail")
    assert res.rc == EX_NOUSER, res
    assert "550 5.1.1 nope" in res.stderr and "554 5.7.1 no thanks" in res.stderr, res
    assert queued(tmp_path) == [] and "queued" not in res.stderr, res
    ac = [l for l in log if "recipients=a@example.com,c@example.com" in l]
    assert ac and "smtpstatus=554" in ac[0] and "exitcode=EX_UNAVAILABLE" in ac[0], log
    # The same in a queue run.
    conf = mailout.write_config(relay_config(refused_port, partial_delivery=True, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue")}))
    assert mailout.run([A, B, C], full_message(), config_file=conf).rc == EX_OK
    conf = mailout.write_config(relay_config(srv, partial_delivery=True, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue")}))
    run = mailout.run(["-q"], config_file=conf)
    assert queued(tmp_path) == [] and len(queued(tmp_path, "failed")) == 1, run


def test_refused_rcpt_then_connection_dropped_keeps_the_others_queued(smtpd, send, tmp_path):
    """The connection breaks during the data: a temporary failure for the
    recipients the relay accepted, not B's refusal for everyone."""
    srv = smtpd("plain", rcpt_for={B: NOPE}, drop_during_data=1)
    res, log = send_abc(send, srv, tmp_path, "onfail")
    assert res.rc == EX_NOUSER and "queued as" in res.stderr, res
    assert re.search(r"^mailout: .*b@example\.com.*550 5\.1\.1 nope", res.stderr, re.M), res
    q = queued(tmp_path)
    assert len(q) == 1 and envelope_rcpts(q[0]) == [A, C], res


def test_every_recipient_refused_some_for_now(smtpd, send, tmp_path):
    """partial_delivery on and nobody accepted: each refusal still counts on
    its own; the deferred recipient is queued, whichever came first."""
    srv = smtpd("plain", **FAULTS)
    log = tmp_path / "mail.log"
    res = send(srv, [BAD, LATER], full_message(), partial_delivery=True,
               globals_={"logfile": str(log), "queue": "onfail",
                         "queue_dir": str(tmp_path / "queue")})
    assert res.rc == EX_NOUSER and srv.messages == [], res
    assert "550 5.1.1" in res.stderr and "451 4.2.0" in res.stderr, res
    q = queued(tmp_path)
    assert len(q) == 1 and envelope_rcpts(q[0]) == [LATER], res


def test_queue_run_rewrite_survives_a_missing_tmp_directory(smtpd, mailout, refused_port,
                                                            tmp_path):
    """A queue run that reached some recipients rewrites the envelope for the
    rest through tmp/; with tmp/ cleaned away it used to keep the old envelope
    in silence, and the next run sent the message to everyone again."""
    glob = {"queue": "onfail", "queue_dir": str(tmp_path / "queue")}
    down = mailout.write_config(relay_config(refused_port, partial_delivery=True,
                                             globals_=glob))
    assert mailout.run([GOOD, LATER], full_message(), config_file=down).rc == EX_OK
    (tmp_path / "queue" / "tmp").rmdir()
    srv = smtpd("plain", rcpt_for={LATER: "451 4.2.0 mailbox busy, try later"})
    conf = mailout.write_config(relay_config(srv, partial_delivery=True, globals_=glob))
    mailout.run(["-q"], config_file=conf)
    assert [m.rcpt_tos for m in srv.messages] == [[GOOD]]
    good = smtpd("plain")
    conf = mailout.write_config(relay_config(good, partial_delivery=True, globals_=glob))
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert [m.rcpt_tos for m in good.messages] == [[LATER]]
