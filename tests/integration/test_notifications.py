"""Delivery status notifications (SPEC 12, issue 16), against real relays.

A queued message that fails for good in a queue run (refused on a retry, or
past queue_lifetime) gets an RFC 3464 notification from the null sender to
its envelope sender, through the normal delivery: the relay for a remote
sender, the mailbox (after aliases) for a local one.  Each notification is
parsed with Python's email package (policy.default) and checked field by
field.  Null-sender messages never cause one; a notification that cannot be
delivered ends in failed/ and goes no further.
"""
import email
import os
import re
import socket
import subprocess
import time
from email import policy

from mailout_run import (EX_NOUSER, EX_OK, PipeSMTP, account_block, full_message,
                         login_name, queued)

ME = login_name()
SENDER = "sender@example.com"
RCPT = "rcpt@example.com"
BUSY = "451 4.3.2 mailbox busy, try again"
GONE = "550 5.1.1 <rcpt@example.com>: no such user here"


def config(mailout, srv, extra_globals="", **settings):
    text = ('queue = onfail\nqueue_dir = "{}"\nlogfile = "{}"\ndefault_account = "relay"\n'
            .format(mailout.queue_dir, mailout.tmp / "mail.log")) + extra_globals
    text += account_block("relay", {"host": srv.host, "port": srv.port, "tls": "off",
                                    "timeout": 5, "domain": "client.example.test", **settings})
    return mailout.write_config(text)


def queue_on_451(mailout, smtpd, sender=SENDER, extra_globals="", subject="report me"):
    """A relay that defers RCPT with 451; one message queued on it."""
    srv = smtpd("plain", rcpt_for={RCPT: BUSY})
    conf = config(mailout, srv, extra_globals)
    res = mailout.run(["-f", sender, RCPT], full_message(subject=subject), config_file=conf)
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    assert len(queued(mailout)) == 1 and not srv.messages
    return srv, conf


def queued_sender(mailout):
    """The envelope sender of the one queued message, as mailout qualified it."""
    (path,) = queued(mailout)
    return re.search(rb"^sender (.*)$", path.read_bytes(), re.M).group(1).decode()


def parse(data: bytes):
    return email.message_from_bytes(data, policy=policy.default)


def check_report(msg, *, to, rcpts, action="failed", status_re=r"5\.1\.1",
                 diagnostic=None, remote_mta=None, subject="report me"):
    """The notification msg, field by field (RFC 3464, RFC 6522)."""
    fqdn = to.split("@")[1] if "@" in to else socket.getfqdn()
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["From"].addresses[0].addr_spec.upper().startswith("MAILER-DAEMON@")
    assert [a.addr_spec for a in msg["To"].addresses] == [to]
    assert msg["Date"] is not None and msg["Message-ID"] is not None
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    human, status, headers = msg.get_payload()
    assert human.get_content_type() == "text/plain"
    text = human.get_content()
    for r in rcpts:
        assert "<{}>".format(r) in text, text
    assert status.get_content_type() == "message/delivery-status"
    blocks = status.get_payload()
    per_msg, per_rcpt = blocks[0], blocks[1:]
    assert per_msg["Reporting-MTA"].split(";")[0].strip() == "dns"
    assert per_msg["Reporting-MTA"].split(";")[1].strip().lower() in (fqdn.lower(),
                                                                      socket.gethostname().lower())
    assert email.utils.parsedate_to_datetime(str(per_msg["Arrival-Date"])) is not None
    assert [b["Final-Recipient"] for b in per_rcpt] == ["rfc822; " + r for r in rcpts]
    for b in per_rcpt:
        assert b["Action"] == action
        assert re.fullmatch(status_re, b["Status"]), b["Status"]
        if diagnostic:
            assert b["Diagnostic-Code"].startswith("smtp; "), b["Diagnostic-Code"]
            assert diagnostic in " ".join(b["Diagnostic-Code"].split()), b["Diagnostic-Code"]
        if remote_mta:
            assert b["Remote-MTA"] == "dns; " + remote_mta
    assert headers.get_content_type() == "text/rfc822-headers"
    quoted = headers.get_payload() if isinstance(headers.get_payload(), str) else \
        headers.get_payload(decode=True).decode()
    assert "Subject: " + subject in quoted, quoted
    return per_rcpt


def notifications(srv):
    return [m for m in srv.messages if m.mail_from == "<>"]


def test_refused_on_retry_notifies_the_sender_through_the_relay(mailout, smtpd):
    """nullmailer's scenario: queued on a 451, refused with 550 on the retry."""
    srv, conf = queue_on_451(mailout, smtpd)
    srv.faults.rcpt_for = {RCPT: GONE}
    res = mailout.run(["-q"], config_file=conf)
    assert res.rc == EX_NOUSER, res
    assert len(queued(mailout, "failed")) == 1 and queued(mailout) == []
    (dsn,) = notifications(srv)
    assert dsn.rcpt_tos == [SENDER]
    check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], status_re=r"5\.1\.1",
                 diagnostic="550 5.1.1 <rcpt@example.com>: no such user here",
                 remote_mta=srv.host)
    log = (mailout.tmp / "mail.log").read_text()
    assert "from=<> recipients={}".format(SENDER) in log and "exitcode=EX_OK" in log, log
    # Nothing more on the next runs.
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert len(notifications(srv)) == 1 and len(srv.messages) == 1


def test_a_local_sender_gets_it_in_the_mailbox_after_aliases(mailout, smtpd):
    """cron's "-f robot": robot is aliased to the invoking user, whose mbox
    ($MAIL) gets the notification; the relay sees none."""
    aliases = mailout.tmp / "aliases"
    aliases.write_text("robot: {}\n".format(ME))
    srv, conf = queue_on_451(mailout, smtpd, sender="robot",
                             extra_globals='aliases = "{}"\n'.format(aliases))
    robot = queued_sender(mailout)
    assert robot.startswith("robot@"), robot
    srv.faults.rcpt_for = {RCPT: GONE}
    res = mailout.run(["-q"], config_file=conf)
    assert res.rc == EX_NOUSER, res
    assert notifications(srv) == []
    box = mailout.mbox.read_bytes()
    assert box.startswith(b"From MAILER-DAEMON ") or box.startswith(b"From "), box[:100]
    (one,) = box[:-1].split(b"\nFrom ")
    msg = parse(one.split(b"\n", 1)[1])
    rc = check_report(msg, to=robot, rcpts=[RCPT], diagnostic="no such user here",
                      remote_mta=srv.host)
    assert rc[0]["Status"] == "5.1.1"
    assert msg["Return-Path"] in (None, "<>"), msg["Return-Path"]


def test_bounce_notice_to_gets_a_copy(mailout, smtpd):
    srv, conf = queue_on_451(mailout, smtpd,
                             extra_globals='bounce_notice_to = "postmaster@example.org"\n')
    srv.faults.rcpt_for = {RCPT: GONE}
    assert mailout.run(["-q"], config_file=conf).rc == EX_NOUSER
    (dsn,) = notifications(srv)
    assert sorted(dsn.rcpt_tos) == ["postmaster@example.org", SENDER]
    check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], diagnostic="no such user here")


def test_past_queue_lifetime_notifies_with_4_4_7(mailout, smtpd):
    srv, conf = queue_on_451(mailout, smtpd, extra_globals="queue_lifetime = 1h\n")
    (path,) = queued(mailout)
    data = path.read_bytes()
    created = int(re.search(rb"^created (\d+)$", data, re.M).group(1))
    path.write_bytes(data.replace(b"created %d" % created, b"created %d" % (created - 7200)))
    res = mailout.run(["-q"], config_file=conf)
    assert "expired" in res.stderr, res
    assert len(queued(mailout, "failed")) == 1 and queued(mailout) == []
    (dsn,) = notifications(srv)
    (b,) = check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], status_re=r"4\.4\.7")
    diag = " ".join(b["Diagnostic-Code"].split())
    assert diag.startswith("x-mailout; expired after 2h") and "451 4.3.2 mailbox busy" in diag, diag


def test_delay_warning_is_sent_once(mailout, smtpd):
    srv, conf = queue_on_451(mailout, smtpd, extra_globals="delay_warning = 1h\n")
    (path,) = queued(mailout)
    data = path.read_bytes()
    created = int(re.search(rb"^created (\d+)$", data, re.M).group(1))
    # Not yet due: a retry sends nothing.
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert notifications(srv) == []
    path.write_bytes(data.replace(b"created %d" % created, b"created %d" % (created - 7200)))
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    (dsn,) = notifications(srv)
    check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], action="delayed",
                 status_re=r"4\.3\.2", diagnostic="451 4.3.2 mailbox busy")
    assert parse(dsn.data)["Subject"].startswith("Delayed Mail")
    assert "delay_warned 1" in (path.parent / (path.name + ".state")).read_text()
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert len(notifications(srv)) == 1 and queued(mailout) == [path]


def test_null_sender_message_causes_no_notification(mailout, smtpd):
    """The loop test: a bounce (null sender) refused for good ends as one
    file in failed/, and nothing is sent about it, then or later."""
    srv, conf = queue_on_451(mailout, smtpd, sender="")
    srv.faults.rcpt_for = {RCPT: GONE}
    assert mailout.run(["-q"], config_file=conf).rc == EX_NOUSER
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert len(queued(mailout, "failed")) == 1 and queued(mailout) == []
    assert srv.messages == []
    mails = [c for c in srv.commands() if c.upper().startswith("MAIL")]
    assert len(mails) == 2, mails           # the first send and the retry


def test_a_notification_that_cannot_be_delivered_is_kept_not_bounced(mailout, smtpd):
    """The sender's address is refused too: the notification ends in failed/
    beside the message, and no third message is made."""
    srv, conf = queue_on_451(mailout, smtpd)
    srv.faults.rcpt_for = {RCPT: GONE, SENDER: "550 5.1.1 <sender@example.com>: unknown"}
    assert mailout.run(["-q"], config_file=conf).rc == EX_NOUSER
    for _ in range(2):
        assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    failed = queued(mailout, "failed")
    assert len(failed) == 2 and queued(mailout) == [] and srv.messages == []
    senders = sorted(re.search(rb"^sender ?(.*)$", p.read_bytes(), re.M).group(1)
                     for p in failed)
    assert senders == [b"", SENDER.encode()]
    rcpts = [c for c in srv.commands() if c.upper().startswith("RCPT")]
    assert sum(SENDER in c for c in rcpts) == 1, rcpts
    log = (mailout.tmp / "mail.log").read_text()
    assert "from=<>" in log and "unknown" in log


def test_bs_message_answered_250_gets_one(mailout, smtpd):
    srv = smtpd("plain", rcpt_for={RCPT: BUSY})
    conf = config(mailout, srv)
    s = PipeSMTP([mailout.bin, "-C", str(conf), "-bs"], mailout.env())
    s.ehlo("app.example")
    assert s.sendmail(SENDER, [RCPT], full_message(subject="report me").decode()) == {}
    s.quit()
    assert s.proc.wait(10) == 0
    assert len(queued(mailout)) == 1
    srv.faults.rcpt_for = {RCPT: GONE}
    assert mailout.run(["-q"], config_file=conf).rc == EX_NOUSER
    (dsn,) = notifications(srv)
    check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], diagnostic="no such user here")


def test_refused_while_the_caller_waits_gets_none(mailout, smtpd):
    srv = smtpd("plain", rcpt_for={RCPT: GONE})
    conf = config(mailout, srv)
    res = mailout.run(["-f", SENDER, RCPT], full_message(), config_file=conf)
    assert res.rc == EX_NOUSER, res
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert srv.messages == [] and queued(mailout) == [] and queued(mailout, "failed") == []


def test_some_refused_others_still_queued(mailout, smtpd):
    """With partial_delivery, a retry where one recipient is refused and
    another deferred: the refused one is reported now, the other stays
    queued (and is not in the notification)."""
    other = "other@example.com"
    srv = smtpd("plain", rcpt_for={RCPT: BUSY, other: BUSY})
    conf = config(mailout, srv, partial_delivery=True)
    res = mailout.run(["-f", SENDER, RCPT, other], full_message(subject="report me"),
                      config_file=conf)
    assert res.rc == EX_OK and len(queued(mailout)) == 1, res
    srv.faults.rcpt_for = {RCPT: GONE, other: BUSY}
    res = mailout.run(["-q"], config_file=conf)
    (dsn,) = notifications(srv)
    check_report(parse(dsn.data), to=SENDER, rcpts=[RCPT], diagnostic="no such user here")
    (left,) = queued(mailout)
    assert b"rcpt other@example.com" in left.read_bytes()
    assert b"rcpt rcpt@example.com" not in left.read_bytes()


def test_deferring_queue_run_prints_nothing(mailout, refused_port, smtpd):
    """The root crontab line `sendmail -q` mails whatever it prints: a relay
    that is down must not make it print every minute.  -v says it."""
    conf = config(mailout, refused_port)
    for n in range(2):
        res = mailout.run(["-f", SENDER, RCPT], full_message(), config_file=conf)
        assert res.rc == EX_OK and "queued as" in res.stderr
    res = mailout.run(["-q"], config_file=conf)
    assert res.rc == EX_OK and res.stderr == "" and res.stdout == "", res
    res = mailout.run(["-q", "-v"], config_file=conf)
    assert res.rc == EX_OK and "Connection refused" in res.stderr or "connect" in res.stderr, res
    log = (mailout.tmp / "mail.log").read_text()
    assert log.count("exitcode=EX_TEMPFAIL") >= 4, log
    # A relay that answers 451 at RCPT: quiet as well.
    srv = smtpd("plain", rcpt_for={RCPT: BUSY})
    conf = config(mailout, srv)
    res = mailout.run(["-q"], config_file=conf)
    assert res.rc == EX_OK and res.stderr == "", res
    assert len(queued(mailout)) == 2
