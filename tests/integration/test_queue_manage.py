"""Managing the queue (SPEC 10, issue 16): --delete, --requeue, --show, and
the summary line of -bp that monitoring reads (Debian's check_mailq).

Exit statuses chosen (mailout(1), "Managing the queue"): 64 for a name
that is no queue id, 66 for an id not in the queue (--requeue: not in
failed/), 75 for a message a queue run is delivering at that moment.
"""
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest

from mailout_run import (EX_OK, EX_TEMPFAIL, EX_USAGE, account_block, full_message, queued)

EX_NOINPUT = 66
SENDER = "sender@example.com"
CHECK_MAILQ = "/usr/lib/nagios/plugins/check_mailq"


def config(mailout, srv, **settings):
    text = ('queue = onfail\nqueue_dir = "{}"\nlogfile = "{}"\ndefault_account = "relay"\n'
            .format(mailout.queue_dir, mailout.tmp / "mail.log"))
    text += account_block("relay", {"host": srv.host, "port": srv.port, "tls": "off",
                                    "timeout": 10, "domain": "client.example.test",
                                    **settings})
    return mailout.write_config(text)


def queue_some(mailout, conf, n, body=""):
    ids = []
    for i in range(n):
        res = mailout.run(["-f", SENDER, "rcpt{}@example.com".format(i)],
                          full_message(subject="msg-{}".format(i), body="hello\n" + body),
                          config_file=conf)
        assert res.rc == EX_OK, res
        ids.append(re.search(r"queued as (\S+):", res.stderr).group(1))
    assert [p.name for p in queued(mailout)] == ids
    return ids


def fail_one(mailout, smtpd, refused_port):
    """One message in failed/ (queued on a dead relay, refused with 550 on the
    retry); returns (its id, a configuration for a relay that accepts)."""
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    bad = smtpd("plain", rcpt_for={"rcpt0@example.com": "550 5.1.1 no such user"})
    assert mailout.run(["-q"], config_file=config(mailout, bad)).rc != EX_OK
    assert [p.name for p in queued(mailout, "failed")] == [qid]
    good = smtpd("plain")
    return qid, good, config(mailout, good)


# ---- -bp's summary line ----

def test_bp_ends_with_postfix_summary_line(mailout, refused_port):
    conf = config(mailout, refused_port)
    assert mailout.run(["-bp"], config_file=conf).stdout.splitlines()[-1] == \
        "Mail queue is empty"
    queue_some(mailout, conf, 3, body="x" * 3000)
    out = mailout.run(["-bp"], config_file=conf).stdout
    sizes = [int(m) for m in re.findall(r"^\d{8}T\S+\s+(\d+)\s", out, re.M)]
    assert len(sizes) == 3 and all(s > 3000 for s in sizes), out
    assert out.splitlines()[-1] == "-- {} Kbytes in 3 Requests.".format(
        (sum(sizes) + 1023) // 1024), out


def test_check_mailq_counts_and_warns(mailout, refused_port, tmp_path):
    """Debian's check_mailq -M postfix reads mailq's last line.  It runs the
    mailq of its utils.pm (a compiled-in /usr/bin/mailq), which it loads from
    its own directory first: the test runs a copy of the plugin beside a copy
    of utils.pm that names a mailq script running this mailout."""
    if not os.access(CHECK_MAILQ, os.X_OK):
        pytest.skip("check_mailq not installed (Debian package monitoring-plugins-standard)")
    utils = Path(CHECK_MAILQ).with_name("utils.pm")
    conf = config(mailout, refused_port)
    queue_some(mailout, conf, 3)
    d = tmp_path / "plugins"
    d.mkdir()
    shutil.copy(CHECK_MAILQ, d / "check_mailq")
    mailq = d / "mailq"
    mailq.write_text('#!/bin/sh\nexec "{}" -C "{}" -bp "$@"\n'.format(mailout.bin, conf))
    mailq.chmod(0o755)
    text, n = re.subn(r'(\$PATH_TO_MAILQ\s*=\s*)"[^"]*"', r'\1"{}"'.format(mailq),
                      utils.read_text())
    assert n == 1, "cannot find PATH_TO_MAILQ in " + str(utils)
    (d / "utils.pm").write_text(text)
    env = mailout.env()
    p = subprocess.run(["perl", str(d / "check_mailq"), "-M", "postfix", "-w", "2", "-c", "5"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1, (p.stdout, p.stderr)          # WARNING
    assert p.stdout.startswith("WARNING:") and "mailq is 3" in p.stdout, p.stdout
    p = subprocess.run(["perl", str(d / "check_mailq"), "-M", "postfix", "-w", "4", "-c", "5"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0 and "(3)" in p.stdout, (p.stdout, p.stderr)


# ---- --delete ----

def test_delete_queued_and_failed(mailout, refused_port, smtpd):
    qid_failed, good, _ = fail_one(mailout, smtpd, refused_port)
    conf = config(mailout, refused_port)
    ids = queue_some(mailout, conf, 3)
    res = mailout.run(["--delete", ids[0], qid_failed, ids[0]], config_file=conf)
    assert res.rc == EX_OK and res.stderr == "", res
    assert res.stdout.splitlines() == ["{}: deleted".format(ids[0]),
                                       "{}: deleted".format(qid_failed)], res
    assert [p.name for p in queued(mailout)] == ids[1:]
    assert queued(mailout, "failed", every_file=True) == []
    assert not (mailout.queue_dir / "q" / (ids[0] + ".state")).exists()
    # The others still go.
    assert mailout.run(["-q"], config_file=config(mailout, good)).rc == EX_OK
    assert sorted(m.rcpt_tos[0] for m in good.messages) == ["rcpt1@example.com",
                                                            "rcpt2@example.com"]


def test_delete_unknown_and_bad_ids(mailout, refused_port):
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    missing = "20200101T000000000000-AbCdEf"
    res = mailout.run(["--delete", missing], config_file=conf)
    assert res.rc == EX_NOINPUT and missing in res.stderr and "no such message" in res.stderr
    for bad in ("../q/" + qid, "x", qid + ".state"):
        res = mailout.run(["--delete", bad], config_file=conf)
        assert res.rc == EX_USAGE and "not a queue id" in res.stderr, res
    res = mailout.run(["--delete"], config_file=conf)
    assert res.rc == EX_USAGE and "--delete needs" in res.stderr, res
    # A good id and a missing one: the good one goes, the status says the other.
    res = mailout.run(["--delete", missing, qid], config_file=conf)
    assert res.rc == EX_NOINPUT and res.stdout == "{}: deleted\n".format(qid), res
    assert queued(mailout) == []


def hold_run(mailout, conf, srv):
    """Start a queue run that the relay keeps waiting after the final dot
    (then answers 451: the message stays queued); returns the process once
    the relay has the message."""
    p = subprocess.Popen([mailout.bin, "-C", str(conf), "-q"], env=mailout.env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 20
    while not srv.hung and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.hung, "the queue run did not reach the final dot"
    return p


def test_delete_while_being_delivered(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    slow = smtpd("plain", hang_after_dot=3.0)
    run = hold_run(mailout, config(mailout, slow), slow)
    res = mailout.run(["--delete", qid], config_file=conf)
    assert res.rc == EX_TEMPFAIL and "being delivered" in res.stderr, res
    assert res.stdout == ""
    assert run.wait(30) == 0
    assert [p.name for p in queued(mailout)] == [qid]          # not lost
    # The run is over: now it goes, and the next run sends nothing.
    res = mailout.run(["--delete", qid], config_file=conf)
    assert res.rc == EX_OK and queued(mailout, every_file=True) == [], res
    good = smtpd("plain")
    assert mailout.run(["-q"], config_file=config(mailout, good)).rc == EX_OK
    assert good.messages == [] and len(slow.hung) == 1


# ---- --requeue ----

def test_requeue_moves_failed_back_with_fresh_state(mailout, refused_port, smtpd):
    qid, good, good_conf = fail_one(mailout, smtpd, refused_port)
    res = mailout.run(["--requeue", qid, qid], config_file=good_conf)
    assert res.rc == EX_OK and res.stdout == "{}: requeued\n".format(qid), res
    assert [p.name for p in queued(mailout)] == [qid]
    assert queued(mailout, "failed", every_file=True) == []
    state = (mailout.queue_dir / "q" / (qid + ".state")).read_text()
    assert re.search(r"^attempts 0$", state, re.M) and "last_error \n" in state, state
    nxt = int(re.search(r"^next_try (\d+)$", state, re.M).group(1))
    assert abs(nxt - time.time()) < 60
    # Due at once, even for a run that honours back-offs.
    assert mailout.run(["-q", "--due"], config_file=good_conf).rc == EX_OK
    assert [m.rcpt_tos for m in good.messages if m.mail_from != "<>"] == \
        [["rcpt0@example.com"]]
    assert queued(mailout) == []


def test_requeue_unknown_or_not_failed(mailout, refused_port):
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    res = mailout.run(["--requeue", qid], config_file=conf)      # queued, not failed
    assert res.rc == EX_NOINPUT and "failed/" in res.stderr, res
    res = mailout.run(["--requeue", "20200101T000000000000-AbCdEf"], config_file=conf)
    assert res.rc == EX_NOINPUT, res
    assert [p.name for p in queued(mailout)] == [qid]


def test_requeue_while_a_run_holds_it(mailout, refused_port, smtpd):
    """A failed message locked by someone (a queue run moving it, or another
    --requeue) is left alone: no copy in q/, none lost."""
    import fcntl
    qid, _, conf = fail_one(mailout, smtpd, refused_port)
    path = mailout.queue_dir / "failed" / qid
    with open(path, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        res = mailout.run(["--requeue", qid], config_file=conf)
        assert res.rc == EX_TEMPFAIL and "being delivered" in res.stderr, res
    assert queued(mailout) == [] and [p.name for p in queued(mailout, "failed")] == [qid]


# ---- --show ----

def test_show_prints_envelope_and_message(mailout, refused_port):
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    res = mailout.run(["--show", qid, qid], config_file=conf)
    assert res.rc == EX_OK, res
    head, _, msg = res.out.partition(b"\n\n")
    fields = [l.split(": ", 1) for l in head.decode().splitlines()]
    d = dict(fields)
    assert d["Queue-ID"] == qid and d["Status"] == "queued" and d["Account"] == "relay"
    assert d["Sender"] == "<{}>".format(SENDER) and d["Recipient"] == "<rcpt0@example.com>"
    assert d["Attempts"] == "1" and "Connection refused" in d["Last-Error"] or \
        "connect" in d["Last-Error"].lower(), d
    assert "Created" in d and "Next-Try" in d
    data = (mailout.queue_dir / "q" / qid).read_bytes()
    assert msg == data[data.index(b"\n\n") + 2:]           # once, though given twice
    assert b"Subject: msg-0" in msg
    res = mailout.run(["--show", "20200101T000000000000-AbCdEf"], config_file=conf)
    assert res.rc == EX_NOINPUT and res.stdout == "", res


def test_show_while_being_delivered(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    slow = smtpd("plain", hang_after_dot=2.0)
    run = hold_run(mailout, config(mailout, slow), slow)
    res = mailout.run(["--show", qid], config_file=conf)
    assert res.rc == EX_OK and b"Subject: msg-0" in res.out, res
    assert run.wait(30) == 0 and [p.name for p in queued(mailout)] == [qid]


# ---- whose queue ----

def test_a_user_cannot_manage_another_users_queue(mailout, refused_port):
    """As root, the queue of the test is root's; the same command as nobody
    is refused (the queue is not theirs) and changes nothing."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    conf = config(mailout, refused_port)
    (qid,) = queue_some(mailout, conf, 1)
    os.chmod(mailout.tmp, 0o755)
    os.chmod(conf, 0o644)
    env = mailout.env({"HOME": "/nonexistent"})
    for op in ("--delete", "--requeue", "--show"):
        p = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            mailout.bin, "-C", str(conf), op, qid],
                           capture_output=True, text=True, env=env, timeout=30)
        assert p.returncode != EX_OK and p.stdout == "", (op, p.stdout, p.stderr)
        assert "not to you" in p.stderr or "Permission denied" in p.stderr, (op, p.stderr)
    assert [p.name for p in queued(mailout)] == [qid]
