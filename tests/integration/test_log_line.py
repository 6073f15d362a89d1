"""The log line (SPEC 9): its fields and quoting, for sends that were
delivered, refused before delivery or failed at the relay, -X, and a log
file that cannot be written."""
import re

import pytest

from mailout_run import (EX_CONFIG, EX_DATAERR, EX_NOPERM, EX_NOUSER, EX_OK, EX_TEMPFAIL,
                         full_message)


def test_log_line(server, send, tmp_path):
    log = tmp_path / "mail.log"
    res = send(server, ["-f", "me@example.com", "a@example.com", "b@example.com"], full_message(),
               globals_={"logfile": str(log)})
    assert res.rc == EX_OK, res
    line = log.read_text().strip()
    assert re.match(r"\w{3} [ \d]\d \d\d:\d\d:\d\d host=127\.0\.0\.1 tls=off auth=off "
                    r"from=me@example\.com recipients=a@example\.com,b@example\.com "
                    r"mailsize=\d+ smtpstatus=250 smtpmsg='250 [^']*' exitcode=EX_OK$", line), line


def test_log_line_quotes_stay_parseable(smtpd, send, tmp_path):
    """msmtp writes a ' inside smtpmsg and errormsg as ?, so that parsers
    matching '[^']*' get the whole text; a relay's "User 'bob' unknown" (or
    libcurl's "Couldn't connect") cut those fields short."""
    srv = smtpd(rcpt="550 5.1.1 <a@example.com>: User 'bob' unknown")
    log = tmp_path / "mail.log"
    res = send(srv, ["a@example.com"], full_message(), globals_={"logfile": str(log)})
    assert res.rc == EX_NOUSER, res
    assert "User 'bob' unknown" in res.stderr, res      # stderr keeps the reply as it was
    line = log.read_text().strip()
    m = re.search(r" smtpstatus=550 smtpmsg='([^']*)' errormsg='([^']*)' exitcode=EX_NOUSER$",
                  line)
    assert m, line
    assert m.group(1).endswith("User ?bob? unknown") and "User ?bob? unknown" in m.group(2), line


@pytest.mark.parametrize("args,stdin,rc,field", [
    (["nosuchuser-xyz"], b"Subject: x\n\nb\n", EX_NOUSER, "host=local"),
    (["a@example.org"], b"Subject: x\n\nb\n", EX_CONFIG, "host=unknown"),
    (["-t"], b"To: bad <x\n\nb\n", EX_DATAERR, "host=unknown"),
])
def test_a_message_refused_before_delivery_is_logged(mailout, tmp_path, args, stdin, rc, field):
    """One line per message (SPEC 9), also for an unknown local user, no
    relay for a remote recipient or a malformed header: cron's mail would
    otherwise leave no trace in the log."""
    log = tmp_path / "mail.log"
    conf = 'logfile = "{}"\nqueue_dir = "{}"\n'.format(log, tmp_path / "queue")
    res = mailout.run(args, stdin, config=conf)
    assert res.rc == rc, res
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    reason = res.stderr.splitlines()[0][len("mailout: "):].replace("'", "?")
    assert field in lines[0] and "errormsg='{}'".format(reason) in lines[0], (lines[0], reason)
    assert re.search(r" exitcode=EX_[A-Z]+$", lines[0]), lines[0]
    # --dry-run logs nothing, even when it fails.
    assert mailout.run(["--dry-run"] + args, stdin, config=conf).rc == rc
    assert len(log.read_text().splitlines()) == 1


LOG_USER, LOG_PASSWORD = "log-user@example.com", "L0g-Passw0rd"


def logged(send, srv, tmp_path, **settings):
    """Send one message with a log file: (result, the one log line)."""
    log = tmp_path / "mail.log"
    res = send(srv, ["a@example.com"], full_message(), globals_={"logfile": str(log)},
               **settings)
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    assert LOG_PASSWORD not in lines[0]
    return res, lines[0]


def session_fields(line):
    """(tls, auth, user) of a log line; user is None when not logged."""
    m = re.search(r" host=\S+ tls=(on|off) auth=(on|off)(?: user=(\S+))? from=", line)
    assert m, line
    return m.groups()


def test_log_line_of_an_authenticated_send(smtpd, send, tmp_path):
    srv = smtpd("starttls", auth=True, user=LOG_USER, password=LOG_PASSWORD)
    res, line = logged(send, srv, tmp_path)
    assert res.rc == EX_OK, res
    assert session_fields(line) == ("on", "on", LOG_USER) and "exitcode=EX_OK" in line, line


def test_log_line_after_refused_credentials_has_the_configured_auth(smtpd, send, tmp_path):
    """auth= and user= are the account's settings, as msmtp logs them, not
    whether AUTH succeeded: the line of a refused login says who tried."""
    srv = smtpd("starttls", auth=True, user=LOG_USER, password="the-right-one")
    res, line = logged(send, srv, tmp_path, password=LOG_PASSWORD)
    assert res.rc == EX_NOPERM, res
    assert session_fields(line) == ("on", "on", LOG_USER), line
    assert "smtpstatus=535" in line and "exitcode=EX_NOPERM" in line, line


def test_log_line_when_the_connection_is_refused_has_the_configured_auth(
        refused_port, send, tmp_path):
    res, line = logged(send, refused_port, tmp_path, tls="starttls", user=LOG_USER,
                       password=LOG_PASSWORD)
    assert res.rc == EX_TEMPFAIL, res
    assert session_fields(line) == ("on", "on", LOG_USER), line
    assert "exitcode=EX_TEMPFAIL" in line, line


def test_log_line_when_passwordeval_fails_has_the_configured_tls_and_auth(
        smtpd, send, tmp_path):
    """No session was even started: tls= comes from the account too."""
    srv = smtpd("starttls", auth=True, user=LOG_USER, password=LOG_PASSWORD)
    res, line = logged(send, srv, tmp_path, password=None, passwordeval="exit 3")
    assert res.rc == EX_CONFIG, res
    assert session_fields(line) == ("on", "on", LOG_USER), line
    assert srv.received_nothing()


@pytest.mark.parametrize("settings", [{}, {"auth": "off", "user": LOG_USER}],
                         ids=["no-user", "auth-off-with-user"])
def test_log_line_without_authentication_has_no_user(server, send, tmp_path, settings):
    res, line = logged(send, server, tmp_path, **settings)
    assert res.rc == EX_OK, res
    assert session_fields(line) == ("off", "off", None), line


def test_dash_x_and_an_unwritable_log(server, send, tmp_path):
    x = tmp_path / "x.log"
    assert send(server, ["-X", str(x), "a@example.com"], full_message()).rc == EX_OK
    assert "exitcode=EX_OK" in x.read_text()
    res = send(server, ["a@example.com"], full_message(),
               globals_={"logfile": str(tmp_path / "no" / "such" / "dir" / "log")})
    assert res.rc == EX_OK and "warning" in res.stderr and len(server.messages) == 2, res
