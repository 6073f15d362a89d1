"""The durable queue (SPEC 10, issue 4), against real aiosmtpd relays.

A relay that is down is a RefusedPort; the configuration is then rewritten
to point at a live server before the queue run.
"""
import os
import pwd
import random
import re
import shutil
import signal
import stat
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from mailout_run import (EX_CONFIG, EX_NOUSER, EX_OK, EX_TEMPFAIL, EX_USAGE, account_block,
                         conf_value, full_message)
from mailout_run import instrumented, queued


def config(mailout, srv, queue="onfail", **globals_):
    g = {"queue": queue, "queue_dir": str(mailout.tmp / "queue"),
         "logfile": str(mailout.tmp / "mail.log"), "default_account": "relay"}
    g.update(globals_)
    text = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items())
    text += account_block("relay", {"host": srv.host, "port": srv.port, "tls": "off",
                                    "timeout": 3, "domain": "client.example.test"})
    path = mailout.tmp / "queue.conf"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def subject_of(m):
    return m.headers("Subject")[0].decode().split(":", 1)[1].strip()


def send_one(mailout, conf, n, *args):
    return mailout.run(list(args) + ["rcpt{}@example.com".format(n)],
                       full_message(subject="msg-{}".format(n)), config_file=conf)


def test_relay_down_then_up(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    res = send_one(mailout, conf, 1, "-f", "sender@example.com")
    assert res.rc == EX_OK, res
    assert "queued as" in res.stderr, res
    assert len(queued(mailout)) == 1
    bp = mailout.run(["-bp"], config_file=conf)
    assert bp.rc == EX_OK and "rcpt1@example.com" in bp.stdout and "sender@example.com" in bp.stdout
    assert "Connection refused" in bp.stdout or "connect" in bp.stdout.lower(), bp
    srv = smtpd("plain")
    conf = config(mailout, srv)
    run = mailout.run(["-q"], config_file=conf)
    assert run.rc == EX_OK, run
    assert [subject_of(m) for m in srv.messages] == ["msg-1"]
    assert queued(mailout) == []
    assert "Mail queue is empty" in mailout.run(["-bp"], config_file=conf).stdout
    log = (mailout.tmp / "mail.log").read_text()
    assert "exitcode=EX_TEMPFAIL" in log and "queue=" in log and "exitcode=EX_OK" in log


def test_a_send_that_ends_up_queued_logs_its_queue_id(mailout, refused_port):
    """The log line of the failed attempt carries the id the message was
    queued under, so that it can be tied to the run that delivers it later."""
    conf = config(mailout, refused_port)
    res = send_one(mailout, conf, 1)
    assert res.rc == EX_OK, res
    qid = re.search(r"queued as (\S+):", res.stderr).group(1)
    lines = (mailout.tmp / "mail.log").read_text().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].endswith(" queue={} exitcode=EX_TEMPFAIL".format(qid)), lines[0]
    # queue = never: the same failure, not queued, no id.
    res = mailout.run(["--queue", "never", "rcpt2@example.com"], full_message(),
                      config_file=conf)
    assert res.rc == EX_TEMPFAIL, res
    last = (mailout.tmp / "mail.log").read_text().splitlines()[-1]
    assert "queue=" not in last and last.endswith(" exitcode=EX_TEMPFAIL"), last


def test_dry_run_queue_run_is_refused_and_sends_nothing(mailout, refused_port, smtpd):
    """--dry-run promises that nothing is sent; with -q it was ignored and the
    whole queue went out for real."""
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    srv = smtpd("plain")
    conf = config(mailout, srv)
    for args in (["-q", "--dry-run"], ["--dry-run", "--flush"]):
        res = mailout.run(args, config_file=conf)
        assert res.rc == EX_USAGE and "--dry-run" in res.stderr, res
    assert srv.connections == [] and not srv.messages
    assert len(queued(mailout)) == 1


def test_mailq_name_and_list_queue(mailout, refused_port):
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 7)
    for args, argv0 in ((["--list-queue"], None), ([], "mailq")):
        res = mailout.run(args, config_file=conf, argv0=argv0)
        assert res.rc == EX_OK and "rcpt7@example.com" in res.stdout, res


def test_4xx_then_accepted(mailout, smtpd):
    busy = smtpd("plain", mail="451 4.3.2 try again later")
    conf = config(mailout, busy)
    res = send_one(mailout, conf, 2)
    assert res.rc == EX_OK and "queued" in res.stderr and "451" in res.stderr, res
    srv = smtpd("plain")
    conf = config(mailout, srv)
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert len(srv.messages) == 1 and queued(mailout) == []


def test_permanent_failure_is_not_queued(mailout, smtpd):
    srv = smtpd("plain", rcpt="550 5.1.1 no such user")
    conf = config(mailout, srv)
    res = send_one(mailout, conf, 3)
    assert res.rc == EX_NOUSER, res
    assert queued(mailout) == []


def test_queue_never_keeps_exit_75_and_option_overrides(mailout, refused_port):
    conf = config(mailout, refused_port, queue="never")
    res = send_one(mailout, conf, 4)
    assert res.rc == EX_TEMPFAIL and queued(mailout) == [], res
    res = send_one(mailout, conf, 5, "--queue", "onfail")
    assert res.rc == EX_OK and len(queued(mailout)) == 1, res
    conf = config(mailout, refused_port)
    res = send_one(mailout, conf, 6, "--queue", "never")
    assert res.rc == EX_TEMPFAIL and len(queued(mailout)) == 1, res


def test_queue_always_returns_at_once_and_delivers_in_the_background(mailout, smtpd):
    srv = smtpd("plain")
    conf = config(mailout, srv, queue="always")
    res = send_one(mailout, conf, 8)
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    for _ in range(100):
        if srv.messages and not queued(mailout):
            break
        time.sleep(0.05)
    assert [subject_of(m) for m in srv.messages] == ["msg-8"]
    assert queued(mailout) == []


def test_files_are_private(mailout, refused_port):
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 9)
    root = mailout.tmp / "queue"
    for dirpath, dirs, files in os.walk(root):
        assert stat.S_IMODE(os.stat(dirpath).st_mode) == 0o700, dirpath
        for f in files:
            assert stat.S_IMODE(os.stat(os.path.join(dirpath, f)).st_mode) == 0o600, f


def test_one_session_for_ten_messages(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    for n in range(10):
        assert send_one(mailout, conf, n).rc == EX_OK
    srv = smtpd("plain")
    conf = config(mailout, srv)
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert len(srv.messages) == 10
    assert len(srv.connections) == 1, "expected one SMTP session, got {}".format(
        len(srv.connections))


def test_delivered_messages_leave_no_file_behind(mailout, refused_port, smtpd):
    """Delivered files go through done/, where a thread unlinks them; the
    run waits for it, and sweeps what a killed run left there."""
    conf = config(mailout, refused_port)
    for n in range(30):
        assert send_one(mailout, conf, n).rc == EX_OK
    done = mailout.tmp / "queue" / "done"
    done.mkdir(mode=0o700, exist_ok=True)
    (done / "20200101T000000000000-stale").write_bytes(b"left by a killed run")
    (done / "20200101T000000000000-stale.state").write_bytes(b"attempts 1\n")
    srv = smtpd("plain")
    conf = config(mailout, srv)
    assert mailout.run(["-q"], config_file=conf).rc == EX_OK
    assert sorted(subject_of(m) for m in srv.messages) == sorted(
        "msg-{}".format(n) for n in range(30))
    assert queued(mailout, every_file=True) == []
    assert list(done.iterdir()) == []


def test_a_held_log_lock_does_not_hold_up_a_run(mailout, refused_port, smtpd):
    """The log line is written before the delivered file leaves the queue;
    a run that waited for the log's lock for ever sat on a delivered
    message, and killing it sent the message twice."""
    import fcntl
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    srv = smtpd("plain")
    conf = config(mailout, srv)
    log = mailout.tmp / "mail.log"
    with open(log, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        res = mailout.run(["-q"], config_file=conf, timeout=20)
    assert res.rc == EX_OK, res
    assert [subject_of(m) for m in srv.messages] == ["msg-1"] and queued(mailout) == []
    assert log.read_text().count("exitcode=EX_OK") == 1


def test_concurrent_runs_deliver_each_message_once(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    for n in range(20):
        assert send_one(mailout, conf, n).rc == EX_OK
    srv = smtpd("plain")
    conf = config(mailout, srv)
    procs = [subprocess.Popen([mailout.bin, "-C", str(conf), "-q"], env=mailout.env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for _ in range(4)]
    for p in procs:
        assert p.wait(timeout=60) == 0
    subjects = sorted(subject_of(m) for m in srv.messages)
    assert subjects == sorted("msg-{}".format(n) for n in range(20)), subjects
    assert queued(mailout) == []


def test_accepted_then_dropped_is_not_resent(mailout, refused_port, smtpd):
    """The relay says 250 to the final dot and the connection then breaks
    (here: the next message of the run is refused with 421 and a close); the
    first message must never be sent again."""
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 1)
    send_one(mailout, conf, 2)
    srv = smtpd("plain", rcpt_for={"rcpt2@example.com": "421 4.3.2 closing"})
    conf = config(mailout, srv)
    mailout.run(["-q"], config_file=conf)
    assert [subject_of(m) for m in srv.messages] == ["msg-1"]
    assert len(queued(mailout)) == 1
    srv2 = smtpd("plain")
    conf = config(mailout, srv2)
    mailout.run(["-q"], config_file=conf)
    assert [subject_of(m) for m in srv2.messages] == ["msg-2"], "message 1 was resent"


def test_permanent_failure_in_a_run_moves_to_failed(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 1)
    srv = smtpd("plain", rcpt="550 5.1.1 gone")
    conf = config(mailout, srv)
    res = mailout.run(["-q"], config_file=conf)
    assert queued(mailout) == [] and len(queued(mailout, "failed")) == 1, res
    bp = mailout.run(["-bp"], config_file=conf)
    assert "FAILED" in bp.stdout and "550" in bp.stdout, bp


def test_queue_lifetime_moves_to_failed_and_is_logged(mailout, refused_port):
    conf = config(mailout, refused_port, queue_lifetime="1s")
    send_one(mailout, conf, 1)
    time.sleep(2.1)
    res = mailout.run(["-q"], config_file=conf)
    assert queued(mailout) == [] and len(queued(mailout, "failed")) == 1, res
    expiry = [l for l in (mailout.tmp / "mail.log").read_text().splitlines() if "expired" in l]
    # The relay it was for, as with every other line (it once said host=local).
    assert len(expiry) == 1 and " host=%s tls=off auth=off " % refused_port.host in expiry[0], \
        expiry
    assert "FAILED" in mailout.run(["-bp"], config_file=conf).stdout


def test_an_expired_message_is_tried_once_more_before_it_fails(mailout, refused_port, smtpd):
    """Postfix gives up only when an attempt fails: a machine that was off
    for longer than queue_lifetime, or a clock that was behind when the
    message was queued, must not turn deliverable mail into failed mail."""
    conf = config(mailout, refused_port, queue_lifetime="1s")
    assert send_one(mailout, conf, 1).rc == EX_OK
    time.sleep(2.1)
    srv = smtpd("plain")
    res = mailout.run(["-q", "--due"], config_file=config(mailout, srv, queue_lifetime="1s"))
    assert res.rc == EX_OK, res
    assert [subject_of(m) for m in srv.messages] == ["msg-1"]
    assert queued(mailout) == [] and queued(mailout, "failed") == []


def clock_shifted(mailout, conf, seconds):
    """Rewrite the only queued message as if queued with the clock off by
    seconds, its next try set by that clock."""
    f = queued(mailout)[0]
    data = f.read_bytes()
    data = re.sub(rb"\ncreated (\d+)\n",
                  lambda m: b"\ncreated %d\n" % (int(m.group(1)) + seconds), data, count=1)
    f.write_bytes(data)
    state = f.with_name(f.name + ".state")
    text = state.read_text()
    text = re.sub(r"next_try (\d+)", lambda m: "next_try %d" % (int(m.group(1)) + seconds), text)
    state.write_text(text)


def test_a_clock_ahead_at_queue_time_does_not_wedge_the_message(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port, queue_lifetime="1s")
    assert send_one(mailout, conf, 1).rc == EX_OK
    clock_shifted(mailout, conf, 365 * 86400)
    bp = mailout.run(["-bp"], config_file=conf)
    assert "-" not in bp.stdout.splitlines()[1].split()[2], bp      # no negative age
    # --due (what cron and the timer run) tries it: a year is no back-off.
    res = mailout.run(["-q", "--due"], config_file=conf)
    assert res.rc == EX_OK and queued(mailout) != [], res
    # Its age counts from the run that saw the future date: it expires.
    time.sleep(2.1)
    mailout.run(["-q", "--due"], config_file=conf)
    assert queued(mailout) == [] and len(queued(mailout, "failed")) == 1


def test_expiry_of_a_host_message_is_logged_as_its_delivery_was(mailout, refused_port):
    """A message queued with --host: the expiry line has the relay, TLS and
    user a delivery attempt logs, the `defaults` section included."""
    conf = mailout.tmp / "host.conf"
    conf.write_text('queue_dir = "%s"\nlogfile = "%s"\nqueue_lifetime = 1s\n'
                    'defaults {\n  tls = off\n  user = "bob"\n  password = "pw"\n}\n'
                    % (mailout.tmp / "queue", mailout.tmp / "mail.log"))
    os.chmod(conf, 0o600)
    res = send_one(mailout, conf, 1, "--host", refused_port.host, "--port", str(refused_port.port))
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    time.sleep(2.1)
    res = mailout.run(["-q"], config_file=conf)
    every = (mailout.tmp / "mail.log").read_text().splitlines()
    # The delivery status notification to the (local) sender, SPEC 12:
    notice = [l for l in every if " from=<> " in l]
    assert len(notice) == 1 and " host=local " in notice[0] and "exitcode=EX_OK" in notice[0]
    lines = [l for l in every if " from=<> " not in l]
    # queued, tried once more by the run (and refused), then expired
    assert len(lines) == 3 and "expired" in lines[2], lines
    for line in lines:
        assert " host=%s tls=off auth=on user=bob " % refused_port.host in line, lines


def wait_for(cond, seconds=20):
    deadline = time.monotonic() + seconds
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.05)
    return cond()


def test_a_successful_send_delivers_the_due_queue_in_the_background(mailout, refused_port,
                                                                    smtpd):
    """A user whom no timer runs the queue for (www-data behind PHP's mail())
    gets the queue flushed by the next send that reaches the relay, as
    msmtpq does; the back-off is respected (--due)."""
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    clock_shifted(mailout, conf, -3600)          # queued an hour ago: due
    srv = smtpd("plain")
    conf = config(mailout, srv)
    res = send_one(mailout, conf, 2)
    assert res.rc == EX_OK and "queued" not in res.stderr, res
    assert wait_for(lambda: len(srv.messages) == 2 and queued(mailout) == []), \
        ([subject_of(m) for m in srv.messages], queued(mailout))
    assert sorted(subject_of(m) for m in srv.messages) == ["msg-1", "msg-2"]


def test_a_successful_send_leaves_messages_in_their_back_off(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK    # the first retry is minutes away
    srv = smtpd("plain")
    conf = config(mailout, srv)
    assert send_one(mailout, conf, 2).rc == EX_OK
    time.sleep(2)
    assert [subject_of(m) for m in srv.messages] == ["msg-2"] and len(queued(mailout)) == 1


def test_periodic_run_respects_the_back_off(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 1)
    srv = smtpd("plain")
    conf = config(mailout, srv)
    # --due only retries messages whose retry time has come (the first retry
    # is minutes away); -q and -qINTERVAL retry everything now (SPEC 1.1:
    # the interval is ignored).
    assert mailout.run(["-q5m", "--due"], config_file=conf).rc == EX_OK
    assert mailout.run(["--due", "-q"], config_file=conf).rc == EX_OK
    assert srv.messages == [] and len(queued(mailout)) == 1
    assert mailout.run(["-q5m"], config_file=conf).rc == EX_OK
    assert len(srv.messages) == 1


@pytest.mark.parametrize("phase", ["enqueue", "run"])
def test_kill_at_random_points_loses_and_duplicates_nothing(mailout, refused_port, smtpd, phase):
    """SIGKILL at random moments; afterwards every message accepted (exit 0)
    is delivered exactly once or still queued, and none twice.  The one
    unavoidable duplicate window is between the relay's 250 to the final dot
    and the removal of the queue file; the test reports it if it is hit."""
    rnd = random.Random(4242 if phase == "enqueue" else 77)
    down = config(mailout, refused_port)
    accepted = set()
    if phase == "enqueue":
        for n in range(60):
            p = subprocess.Popen([mailout.bin, "-C", str(down), "rcpt{}@example.com".format(n)],
                                 stdin=subprocess.PIPE, env=mailout.env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            p.stdin.write(full_message(subject="msg-{}".format(n)))
            p.stdin.close()
            time.sleep(rnd.uniform(0, 0.03))
            p.send_signal(signal.SIGKILL)
            if p.wait() == 0:
                accepted.add("msg-{}".format(n))
    else:
        for n in range(40):
            assert send_one(mailout, down, n).rc == EX_OK
            accepted.add("msg-{}".format(n))
    srv = smtpd("plain")
    live = config(mailout, srv)
    if phase == "run":
        for _ in range(25):
            p = subprocess.Popen([mailout.bin, "-C", str(live), "-q"], env=mailout.env(),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rnd.uniform(0, 0.02))
            p.send_signal(signal.SIGKILL)
            p.wait()
    assert mailout.run(["-q"], config_file=live).rc == EX_OK
    subjects = [subject_of(m) for m in srv.messages]
    dups = sorted({s for s in subjects if subjects.count(s) > 1})
    assert not dups, "delivered twice (killed between the relay's 250 and the unlink?): %s" % dups
    missing = accepted - set(subjects)
    assert not missing, "accepted but lost: %s" % sorted(missing)
    # Nothing is left in q/: no message, no state, no half-written state file.
    q = mailout.tmp / "queue" / "q"
    assert not (q.exists() and list(q.iterdir())), list(q.iterdir())



def test_list_queue_shows_every_field(mailout, refused_port):
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 3, "-f", "sender@example.com")
    (path,) = queued(mailout)
    data = path.read_bytes()
    size = len(data) - data.index(b"\n\n") - 2          # the message, without the envelope
    out = mailout.run(["-bp"], config_file=conf).stdout
    row = re.search(r"^(\S+)\s+(\d+)\s+(\S+)\s+(\d+)\s+(\S+)$", out, re.M)
    assert row, out
    assert row.group(1) == path.name and int(row.group(2)) == size, out
    assert row.group(3) == "0m" and row.group(4) == "1", out      # age, attempts
    assert row.group(5) == "sender@example.com", out
    assert "rcpt3@example.com" in out and "connect" in out, out          # last error
    assert out.splitlines()[-1] == "-- {} Kbytes in 1 Request.".format((size + 1023) // 1024), out


def test_ids_sort_oldest_first(mailout, refused_port, smtpd):
    conf = config(mailout, refused_port)
    for n in range(6):
        assert send_one(mailout, conf, n).rc == EX_OK
    srv = smtpd("plain")
    assert mailout.run(["-q"], config_file=config(mailout, srv)).rc == EX_OK
    assert [subject_of(m) for m in srv.messages] == ["msg-%d" % n for n in range(6)]


def test_expired_message_leaves_even_during_its_back_off(mailout, refused_port):
    conf = config(mailout, refused_port, queue_lifetime="1s")
    send_one(mailout, conf, 1)                  # next retry is minutes away
    time.sleep(2.1)
    mailout.run(["-q", "--due"], config_file=conf)
    assert queued(mailout) == [] and len(queued(mailout, "failed")) == 1


def test_queue_always_returns_before_a_hanging_relay_answers(mailout, silent_server):
    conf = config(mailout, silent_server, queue="always")
    res = send_one(mailout, conf, 1)
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    # The relay never greets and the account's timeout is 3 s: a mailout
    # that waited for it would take that long.
    assert res.elapsed < 2.5, res
    assert len(queued(mailout)) == 1


@pytest.mark.parametrize("fault", ["passwordeval", "wrong password"])
def test_settings_problems_in_a_run_keep_the_messages_queued(mailout, refused_port, smtpd,
                                                             fault):
    """Credentials that fail, like settings and TLS trust, are for the
    administrator to fix while the messages wait; they are not the message's
    fault and must not move it to failed/.  The account's other messages are
    not tried in that run."""
    pwfile = mailout.tmp / "pw"
    pwfile.write_text("secret\n")
    def conf_for(srv):
        path = config(mailout, srv)
        text = path.read_text().rstrip().rstrip("}")
        path.write_text(text + '  user = "u"\n  passwordeval = "cat %s"\n}\n' % pwfile)
        return path
    conf = conf_for(refused_port)
    for n in range(3):
        assert send_one(mailout, conf, n).rc == EX_OK
    srv = smtpd("plain", auth=True, user="u", password="secret")
    if fault == "passwordeval":
        pwfile.unlink()
    else:
        pwfile.write_text("wrong\n")
    res = mailout.run(["-q"], config_file=conf_for(srv))
    assert len(queued(mailout)) == 3 and queued(mailout, "failed") == [], res
    assert srv.messages == [] and len(srv.connections) <= 1, res
    assert res.rc != EX_OK and "stay queued" in res.stderr and "failed/" not in res.stderr, res
    bp = mailout.run(["-bp"], config_file=conf).stdout
    assert "FAILED" not in bp and ("passwordeval" in bp or "credentials" in bp), bp


SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/file.h>
/* Delay the first flock() by SHIM_FLOCK_DELAY_MS: the process has opened
 * the queue file and waits, as a run slowed down by load would. */
int flock(int fd, int op)
{
	static int (*real)(int, int);
	static int done;
	const char *ms = getenv("SHIM_FLOCK_DELAY_MS");
	if (!real)
		real = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
	if (ms && !done++)
		usleep(atoi(ms) * 1000);
	return real(fd, op);
}
"""


def test_a_run_that_opened_a_message_before_it_moved_to_failed_does_not_send_it(
        mailout, refused_port, smtpd, tmp_path):
    """Run A opens q/ID and is slowed down before taking its lock; run B
    meanwhile gets a permanent refusal and moves the message to failed/.
    A must see that q/ID is no longer the file it opened."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or instrumented(mailout.bin):
        pytest.skip("needs a C compiler and an uninstrumented binary for the LD_PRELOAD shim")
    src = tmp_path / "shim.c"
    src.write_text(SHIM)
    lib = tmp_path / "shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    conf = config(mailout, refused_port)
    send_one(mailout, conf, 1)
    srv = smtpd("plain", rcpt="550 5.1.1 gone")
    conf = config(mailout, srv)
    env = mailout.env({"LD_PRELOAD": str(lib), "SHIM_FLOCK_DELAY_MS": "1500"})
    slow = subprocess.Popen([mailout.bin, "-C", str(conf), "-q"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(0.5)                              # A has opened the file by now
    mailout.run(["-q"], config_file=conf)        # B: 550, moved to failed/
    assert len(queued(mailout, "failed")) == 1
    slow.wait(30)
    rcpts = [c for c in srv.commands() if c.upper().startswith("RCPT")]
    assert len(rcpts) == 1, "the message was tried again after it failed: %s" % rcpts
    assert len(queued(mailout, "failed")) == 1 and queued(mailout) == []


def run_as_nobody():
    try:
        return ["setpriv", "--reuid=nobody", "--regid=%d" % pwd.getpwnam("nobody").pw_gid,
                "--clear-groups"]
    except KeyError:
        return None


def test_default_queue_directory(mailout, tmp_path):
    """$XDG_STATE_HOME/mailout/queue for users, /var/spool/mailout for root."""
    def shown(prefix, env):
        cmd = [mailout.bin, "--host", "relay.example", "--show-config"]
        p = subprocess.run(mailout.host_guard(env, cmd) + prefix + cmd,
                           capture_output=True, env=env, timeout=30)
        assert p.returncode == 0, p
        return re.search(r'queue_dir\s+= "([^"]*)"', p.stdout.decode()).group(1)
    env = mailout.env({"MAILOUT_CONFIG": None})
    if os.geteuid() != 0:
        assert shown([], env) == env["XDG_STATE_HOME"] + "/mailout/queue"
        return
    assert shown([], env) == "/var/spool/mailout"
    prefix = run_as_nobody()
    if not prefix or not shutil.which("setpriv"):
        pytest.skip("cannot switch to the user nobody")
    import tempfile
    home = Path(tempfile.mkdtemp(prefix="mailout-nobody-"))  # pytest's tree is root-only
    os.chmod(home, 0o777)
    # SPEC 2: HOME and XDG_* count only when they are nobody's.
    nobody = pwd.getpwnam("nobody")
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"),
               XDG_CONFIG_HOME=str(home / "config"))
    assert shown(prefix, env) == str(home / "state") + "/mailout/queue"
    del env["XDG_STATE_HOME"]
    assert shown(prefix, env) == str(home) + "/.local/state/mailout/queue"
    shutil.rmtree(home)


@pytest.mark.parametrize("problem", ["group-writable", "other owner", "symlinked q"])
def test_a_queue_directory_others_can_write_is_refused(mailout, refused_port, smtpd, problem):
    """Whoever can write in the queue can remove, forge or redirect its mail
    (a forged envelope's passwordeval ran as the user running -q)."""
    qdir = mailout.tmp / "queue"
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK          # a good queue first
    if problem == "group-writable":
        os.chmod(qdir / "q", 0o770)
    elif problem == "other owner":
        os.chown(qdir, 65534, -1)
        if os.geteuid() != 0:
            pytest.skip("needs root to give the directory away")
    else:
        os.rename(qdir / "q", qdir / "real-q")
        os.symlink(qdir / "real-q", qdir / "q")
    # Not queued: the caller learns that the message is not safe (75).
    res = send_one(mailout, conf, 2)
    assert res.rc == EX_TEMPFAIL and "cannot queue" in res.stderr, res
    assert "refusing to use the queue" in res.stderr or "not using the queue" in res.stderr, res
    srv = smtpd("plain")
    run = mailout.run(["-q"], config_file=config(mailout, srv))
    assert run.rc == EX_CONFIG and "refusing to use the queue" in run.stderr, run
    assert srv.messages == []
    # Delivery itself does not need the queue: it goes ahead, with a warning.
    res = send_one(mailout, config(mailout, srv), 3)
    assert res.rc == EX_OK, res
    assert [subject_of(m) for m in srv.messages] == ["msg-3"]


def test_stray_and_corrupt_files_in_q(mailout, refused_port, smtpd):
    """A file that is not mailout's is left alone; a queue file whose
    envelope is broken moves to failed/, is logged, shown by -bp, and the
    run's exit status says so."""
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    q = mailout.tmp / "queue" / "q"
    good = queued(mailout)[0]
    (q / "README").write_text("notes\n")
    (q / "20261123T000000000001-trunc").write_bytes(good.read_bytes()[:40])
    os.chmod(q / "20261123T000000000001-trunc", 0o600)
    bp = mailout.run(["-bp"], config_file=conf)
    assert "20261123T000000000001-trunc" in bp.stdout and "(unreadable)" in bp.stdout, bp
    assert "README" not in bp.stdout
    # Every row's columns line up with the header (ids are 28 characters).
    rows = [l for l in bp.stdout.splitlines() if re.match(r"\d{8}T", l)]
    head = bp.stdout.splitlines()[0]
    end = head.index("Size") + 4
    assert len(rows) == 2 and all(r[end - 1] != " " and r[end] == " " for r in rows), bp
    srv = smtpd("plain")
    live = config(mailout, srv)
    run = mailout.run(["-q"], config_file=live)
    assert run.rc != EX_OK and "no complete envelope" in run.stderr, run
    assert [subject_of(m) for m in srv.messages] == ["msg-1"]
    assert (q / "README").exists()
    assert (mailout.tmp / "queue" / "failed" / "20261123T000000000001-trunc").exists()
    log = (mailout.tmp / "mail.log").read_text()
    assert "queue=20261123T000000000001-trunc" in log and "no complete envelope" in log, log
    bp = mailout.run(["-bp"], config_file=live)
    assert "20261123T000000000001-trunc" in bp.stdout and "(FAILED)" in bp.stdout, bp


def test_overrides_given_with_an_account_are_kept_in_the_queue(mailout, refused_port, smtpd):
    """--account with --port (or --tls, --user, --passwordeval): the retry
    uses what the message was given, not the account's own settings (with
    --tls starttls on a tls = off account, a retry went out in clear)."""
    srv = smtpd("plain")
    conf = config(mailout, srv)
    res = send_one(mailout, conf, 1, "--account", "relay", "--port", str(refused_port.port))
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    envelope = queued(mailout)[0].read_bytes().split(b"\n\n", 1)[0]
    assert b"account relay\n" in envelope and b"port %d\n" % refused_port.port in envelope
    mailout.run(["-q"], config_file=conf)
    assert srv.messages == [] and len(queued(mailout)) == 1


def test_state_files_left_without_their_message_are_swept(mailout, refused_port):
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    q = mailout.tmp / "queue" / "q"
    old, new = q / "20200101T000000000000-gone.state", q / "20200101T000000000001-gone.state"
    for p in (old, new, q / "20200101T000000000000-gone.state.new"):
        p.write_text("attempts 1\n")
    for p in (old, q / "20200101T000000000000-gone.state.new"):
        os.utime(p, (time.time() - 2 * 86400,) * 2)
    mailout.run(["-q"], config_file=conf)
    left = sorted(p.name for p in q.iterdir())
    assert not old.exists() and new.exists(), left     # a day old or more only
    assert len([n for n in left if "." not in n]) == 1 and \
        "20200101T000000000000-gone.state.new" not in left, left


def test_a_message_whose_account_is_gone_is_logged_at_each_attempt(mailout, refused_port):
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    other = mailout.tmp / "other.conf"
    other.write_text(conf.read_text().replace('"relay"', '"other"'))
    os.chmod(other, 0o600)
    res = mailout.run(["-q", "-v"], config_file=other)      # deferred: said with -v
    assert 'account "relay" is no longer configured' in res.stderr, res
    lines = (mailout.tmp / "mail.log").read_text().splitlines()
    assert len(lines) == 2 and "no longer configured" in lines[1], lines
    assert "host=unknown" in lines[1] and "host=local" not in lines[1], lines
    assert len(queued(mailout)) == 1


def test_a_queue_file_with_a_nul_in_a_long_envelope_line_is_set_aside(mailout, refused_port,
                                                                      smtpd):
    """A NUL byte in an envelope line longer than one read (8 KiB) crashed
    the envelope reader in -bp and -q, and every message sorted after it
    was never delivered.  The file is set aside in failed/, logged, and
    the others are listed and delivered."""
    conf = config(mailout, refused_port)
    assert send_one(mailout, conf, 1).rc == EX_OK
    assert send_one(mailout, conf, 2).rc == EX_OK
    bad_id = "20000101T000000000000-nul"                 # sorts first
    bad = mailout.tmp / "queue" / "q" / bad_id
    bad.write_bytes(b"mailout-envelope 1\nsender a\0" + b"a" * 9000 +
                    b"\nrcpt rcpt9@example.com\ncreated 1\n\nSubject: bad\r\n\r\nx\r\n")
    os.chmod(bad, 0o600)
    bp = mailout.run(["-bp"], config_file=conf)
    assert bp.rc == EX_OK, bp
    assert bad_id in bp.stdout and "(unreadable)" in bp.stdout and "NUL" in bp.stdout, bp
    assert "rcpt1@example.com" in bp.stdout and "rcpt2@example.com" in bp.stdout, bp
    srv = smtpd("plain")
    live = config(mailout, srv)
    run = mailout.run(["-q"], config_file=live)
    assert run.rc not in (EX_OK, -signal.SIGSEGV) and "NUL" in run.stderr, run
    assert sorted(subject_of(m) for m in srv.messages) == ["msg-1", "msg-2"], run
    assert queued(mailout) == []
    assert [p.name for p in queued(mailout, "failed")] == [bad_id]
    log = (mailout.tmp / "mail.log").read_text()
    assert "queue=" + bad_id in log and "NUL" in log, log
    bp = mailout.run(["-bp"], config_file=live)
    assert bp.rc == EX_OK and bad_id in bp.stdout and "(FAILED)" in bp.stdout, bp


LINK_SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
/* Sleep SHIM_LINK_DELAY_MS after a link() into q/: the message is in the
 * queue, its state not written yet, as a sender slowed down by load. */
int link(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	const char *ms = getenv("SHIM_LINK_DELAY_MS");
	int rc;
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "link");
	rc = real(from, to);
	if (rc == 0 && ms && strstr(to, "/q/"))
		usleep(atoi(ms) * 1000);
	return rc;
}
"""


def test_a_sender_leaves_no_state_file_for_a_message_a_run_delivered(mailout, refused_port,
                                                                     smtpd, tmp_path):
    """A sender that queues a message writes its state file after the link
    into q/; a run in between delivered the message and the sender then
    left a .state without message.  The sender holds the message's lock
    until its state is written: the run leaves the message to the next."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or instrumented(mailout.bin):
        pytest.skip("needs a C compiler and an uninstrumented binary for the LD_PRELOAD shim")
    src = tmp_path / "link-shim.c"
    src.write_text(LINK_SHIM)
    lib = tmp_path / "link-shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    conf = config(mailout, refused_port)
    env = mailout.env({"LD_PRELOAD": str(lib), "SHIM_LINK_DELAY_MS": "3000"})
    sender = subprocess.Popen([mailout.bin, "-C", str(conf), "rcpt1@example.com"], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    sender.stdin.write(full_message(subject="msg-1"))
    sender.stdin.close()
    deadline = time.time() + 20
    while not queued(mailout) and time.time() < deadline:
        time.sleep(0.02)
    assert queued(mailout), "the sender never queued the message"
    srv = smtpd("plain")
    live = config(mailout, srv)
    mailout.run(["-q"], config_file=live)          # while the sender sleeps
    assert sender.wait(30) == EX_OK, sender.stderr.read()
    q = mailout.tmp / "queue" / "q"
    orphans = [p.name for p in q.iterdir()
               if p.name.endswith(".state") and not (q / p.name[:-6]).exists()]
    assert orphans == [], "state files without their message: %s" % orphans
    mailout.run(["-q"], config_file=live)
    assert [subject_of(m) for m in srv.messages] == ["msg-1"]
    assert list(q.iterdir()) == []


def test_partial_delivery_off_queues_the_message_for_every_recipient(mailout, smtpd):
    """With partial_delivery off (the default) the relay's recipients share
    one transaction: a 4xx to one of them defers the message for all, and
    the queue keeps it for all of them (mailout(1), THE QUEUE)."""
    busy = smtpd("plain", rcpt_for={"rcpt2@example.com": "451 4.2.0 mailbox busy"})
    conf = config(mailout, busy)
    res = mailout.run(["rcpt1@example.com", "rcpt2@example.com"], full_message(),
                      config_file=conf)
    assert res.rc == EX_OK and "queued as" in res.stderr and "451" in res.stderr, res
    assert busy.messages == []
    q = queued(mailout)
    assert len(q) == 1, res
    envelope = q[0].read_bytes().split(b"\n\n", 1)[0].decode()
    assert "rcpt rcpt1@example.com\n" in envelope and "rcpt rcpt2@example.com\n" in envelope
    srv = smtpd("plain")
    assert mailout.run(["-q"], config_file=config(mailout, srv)).rc == EX_OK
    assert [sorted(m.rcpt_tos) for m in srv.messages] == [["rcpt1@example.com",
                                                           "rcpt2@example.com"]]


def test_local_recipients_delivered_are_not_queued_with_the_relays(mailout, refused_port,
                                                                   smtpd):
    """Local recipients are delivered one by one: when the relay is down,
    the message is queued for the relay's recipients only, and the local
    one does not get it a second time from the queue run."""
    from mailout_run import login_name
    me = login_name()
    conf = config(mailout, refused_port)
    res = mailout.run([me, "rcpt1@example.com"], full_message(subject="mixed"),
                      config_file=conf)
    assert res.rc == EX_OK and "queued as" in res.stderr, res
    assert mailout.mbox.read_bytes().count(b"Subject: mixed") == 1
    q = queued(mailout)
    assert len(q) == 1
    envelope = q[0].read_bytes().split(b"\n\n", 1)[0].decode()
    rcpts = [l for l in envelope.splitlines() if l.startswith("rcpt ")]
    assert rcpts == ["rcpt rcpt1@example.com"], envelope
    srv = smtpd("plain")
    assert mailout.run(["-q"], config_file=config(mailout, srv)).rc == EX_OK
    assert [m.rcpt_tos for m in srv.messages] == [["rcpt1@example.com"]]
    assert mailout.mbox.read_bytes().count(b"Subject: mixed") == 1
