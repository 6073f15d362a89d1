"""partial_delivery (SPEC 2, issue 5): with it on, a message goes to the
recipients the relay accepted; each refused one is named on stderr and in the
log with the relay's reply; 5xx refusals make the exit status 67 and 4xx ones
are queued.  With it off (the default) any refusal stops the whole message."""
import re

import pytest

from mailout_run import EX_NOUSER, EX_OK, EX_PROTOCOL, full_message

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
    queued = [p for p in (tmp_path / "queue" / "q").iterdir() if "." not in p.name]
    assert len(queued) == 1
    envelope = queued[0].read_bytes().split(b"\n\n", 1)[0].decode()
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
    queued = [p for p in (tmp_path / "queue" / "q").iterdir() if "." not in p.name] \
        if (tmp_path / "queue" / "q").exists() else []
    if queue == "never":
        assert queued == []
    else:
        assert "queued as" in res.stderr, res
        assert len(queued) == 1
        envelope = queued[0].read_bytes().split(b"\n\n", 1)[0].decode()
        assert "rcpt " + weird in envelope and GOOD not in envelope, envelope
