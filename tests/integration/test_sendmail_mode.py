"""Sendmail mode end to end (SPEC 1-3, 7 and 9): real callers' argument
vectors, headers and -t, envelope sender rules, configuration errors,
--dry-run, --show-config and -v redaction."""
import base64
import os
import re
import stat

import pytest

from mailout_run import (EX_CONFIG, EX_DATAERR, EX_NOPERM, EX_NOUSER, EX_OK, EX_TEMPFAIL,
                         EX_USAGE, full_message, login_name, message, relay_config)

ME = login_name()


@pytest.fixture
def aliases(tmp_path):
    p = tmp_path / "aliases"
    p.write_text("root: admin@example.com\npostmaster: root\n")
    return str(p)


HEADERS = ["From: app@example.com", "To: to@example.com", "Subject: callers"]

# (caller, argv, the message, expected envelope recipients, expected sender)
CALLERS = [
    ("cronie", ["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root"],
     ["To: root"], ["admin@example.com"], "root"),
    ("debian cron", ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"], [], ["admin@example.com"], None),
    ("busybox", ["-ti"], HEADERS, ["to@example.com"], None),
    ("anacron", ["-FAnacron", "-odi", "root"], [], ["admin@example.com"], None),
    ("php", ["-t", "-i"], HEADERS, ["to@example.com"], None),
    ("phpmailer", ["-oi", "-fbounce@example.com", "-t"], HEADERS, ["to@example.com"], "bounce@example.com"),
    ("mutt", ["-oem", "-oi", "-B8BITMIME", "-f", "me@example.com", "--", "to@example.com",
              "bcc@example.com"], HEADERS, ["to@example.com", "bcc@example.com"], "me@example.com"),
    ("mutt dsn", ["-oem", "-oi", "-N", "delay,failure", "-R", "hdrs", "-B8BITMIME", "-f",
                  "me@example.com", "--", "to@example.com"], HEADERS, ["to@example.com"], "me@example.com"),
    ("s-nail", ["-i", "-F", "Me", "-f", "me@example.com", "--", "a@example.com", "b@example.com"],
     HEADERS, ["a@example.com", "b@example.com"], "me@example.com"),
    ("fail2ban", ["-f", "fail2ban@example.com", "root"], [], ["admin@example.com"], "fail2ban@example.com"),
    ("proxmox", ["-B", "8BITMIME", "-f", "pve@example.com", "--", "a@example.com", "b@example.com"],
     HEADERS, ["a@example.com", "b@example.com"], "pve@example.com"),
    ("sympa", ["-N", "success,failure", "-V", "envid42", "-f", "list@example.com", "a@example.com"],
     HEADERS, ["a@example.com"], "list@example.com"),
    ("mdadm/logwatch", ["-t"], ["To: root", "Subject: mdadm"], ["admin@example.com"], None),
]


@pytest.mark.parametrize("caller,argv,headers,rcpts,sender", CALLERS, ids=[c[0] for c in CALLERS])
def test_real_callers(server, send, aliases, caller, argv, headers, rcpts, sender):
    body = "line one\n.\nafter the dot\n"
    res = send(server, argv, message(headers, body), globals_={"aliases": aliases})
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert sorted(m.rcpt_tos) == sorted(rcpts)
    if sender:
        # a bare "-f root" is qualified with this host's name, as Postfix does
        assert m.mail_from == sender or ("@" not in sender and
                                         m.mail_from.startswith(sender + "@")), m.mail_from
    ignore_dots = "-i" in argv or "-oi" in argv or "-ti" in argv
    assert (b"after the dot" in m.data) == ignore_dots


def test_t_with_to_cc_bcc_groups_quoted_names_and_folding(server, send):
    res = send(server, ["-t", "extra@example.com"], message([
        'To: "Doe, John" <john@example.com>,', ' Team: a@example.com, b@example.com;',
        "Cc: (boss) boss@example.com", "Bcc: secret@example.com", "Subject: t"]))
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert sorted(m.rcpt_tos) == sorted(["john@example.com", "a@example.com", "b@example.com",
                                         "boss@example.com", "secret@example.com",
                                         "extra@example.com"])
    assert not m.headers("Bcc") and b"secret@example.com" not in m.data
    assert m.headers("To")[0].startswith(b'To: "Doe, John" <john@example.com>,\r\n Team:')


def test_resent_headers_replace_to_cc_bcc(server, send):
    res = send(server, ["-t"], message(["To: old@example.com", "Resent-From: me@example.com",
                                        "Resent-To: new@example.com", "Resent-Bcc: hid@example.com",
                                        "Subject: r"]))
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert sorted(m.rcpt_tos) == ["hid@example.com", "new@example.com"]
    assert not m.headers("Resent-Bcc")


def test_resent_message_gets_resent_fields(server, send):
    """Postfix's cleanup adds Resent-From, Resent-Date and Resent-Message-ID
    to a message with Resent- headers (RFC 5322 3.6.6); a new Date or
    Message-ID would claim to be the original's."""
    orig = ["From: author@example.com", "To: old@example.com", "Subject: r",
            "Date: Mon, 02 Jan 2023 03:04:05 +0000", "Message-ID: <orig.1@example.com>"]
    res = send(server, ["-t", "-f", "me@example.com"], message(orig + ["Resent-To: new@example.com"]))
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert m.headers("From") == [b"From: author@example.com"]
    assert m.headers("Date") == [b"Date: Mon, 02 Jan 2023 03:04:05 +0000"]
    assert m.headers("Message-ID") == [b"Message-ID: <orig.1@example.com>"]
    assert m.headers("Resent-From") == [b"Resent-From: me@example.com"]
    assert len(m.headers("Resent-Date")) == 1 and len(m.headers("Resent-Message-ID")) == 1
    # Without Resent- headers the plain fields are added, as before.
    res = send(server, ["-f", "me@example.com", "x@example.com"], message(["Subject: p"]))
    m = server.messages[1]
    assert m.headers("From") and m.headers("Date") and m.headers("Message-ID")
    assert not m.headers("Resent-From") and not m.headers("Resent-Date")
    # A resent message without its own From and Date still gets them (SPEC 3,
    # RFC 5322: every message has both), besides its Resent- fields.
    res = send(server, ["-t", "-f", "me@example.com"],
               message(["Resent-To: new@example.com", "Subject: bare"]))
    assert res.rc == EX_OK, res
    m = server.messages[-1]
    for name in ("From", "Date", "Message-ID", "Resent-From", "Resent-Date", "Resent-Message-ID"):
        assert len(m.headers(name)) == 1, (name, m.data)
    assert m.headers("From") == [b"From: me@example.com"]
    # rewrite_from rewrites who resent it, not the author.
    res = send(server, ["-t"], message(orig + ["Resent-From: someone@example.com",
                                               "Resent-To: new@example.com"]),
               rewrite_from=True, **{"from": "robot@example.com"})
    assert res.rc == EX_OK, res
    m = server.messages[-1]
    assert m.headers("From") == [b"From: author@example.com"]
    assert m.headers("Resent-From") == [b"Resent-From: robot@example.com"], m.headers("Resent-From")


def test_t_address_after_angle_brackets_is_a_recipient_too(server, send):
    # Postfix reads a missing comma after "<...>"; dropping bob was silent loss.
    res = send(server, ["-t"], message(["To: Al <al@example.com> bob@example.com",
                                        "Subject: t"]))
    assert res.rc == EX_OK, res
    assert sorted(server.messages[0].rcpt_tos) == ["al@example.com", "bob@example.com"]


@pytest.mark.parametrize("to", ["John Doe <john doe@example.com>",
                                "Ann <ann@ex ample.com>"])
def test_t_space_inside_angle_brackets_is_refused_not_joined(server, send, to):
    res = send(server, ["-t"], message(["To: " + to, "Subject: t"]))
    assert res.rc == EX_DATAERR and server.received_nothing(), res
    assert "white space inside <address>" in res.stderr


def test_leading_from_lines_quoted_or_not_are_dropped(server, send):
    res = send(server, ["-t"], b">From a@b Mon Jan  1 00:00:00 2024\nFrom x@y Tue Jan  2 "
               b"00:00:00 2024\nTo: t@example.com\nSubject: s\n\nbody\n")
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert m.rcpt_tos == ["t@example.com"] and m.headers("Subject") == [b"Subject: s"]
    assert b"From a@b" not in m.data and b"From x@y" not in m.data


def test_no_recipients_names_the_resent_headers_it_read(server, send):
    res = send(server, ["-t"], message(["To: old@example.com", "Resent-From: me@example.com",
                                        "Subject: r"]))
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert "none in Resent-To, Resent-Cc or Resent-Bcc" in res.stderr


@pytest.mark.parametrize("args", [["-v"], []], ids=["verbose", "plain"])
def test_closed_stderr_never_writes_into_the_message(mailout, server, args):
    """A caller that closed descriptor 2 (2>&-): the spool file must not get
    it, or the transcript and diagnostics go into the message (with -v the
    relay got 0 bytes, exit 0)."""
    import subprocess
    conf = mailout.write_config(relay_config(server))
    body = "".join("line %05d\n" % i for i in range(2000))
    p = subprocess.run([mailout.bin, "-C", str(conf)] + args + ["x@example.com"],
                       input=("Subject: closed\n\n" + body).encode(), env=mailout.env(),
                       stdout=subprocess.DEVNULL, timeout=30,
                       preexec_fn=lambda: os.close(2))
    assert p.returncode == EX_OK
    m = server.messages[0]
    assert m.headers("Subject") == [b"Subject: closed"]
    assert m.data.endswith(body.replace("\n", "\r\n").encode()), m.data[-200:]
    assert b"mailout" not in m.data.split(b"\r\n\r\n", 1)[1]


def test_closed_stdin_is_an_error_not_an_empty_message(mailout, server):
    import subprocess
    conf = mailout.write_config(relay_config(server))
    p = subprocess.run([mailout.bin, "-C", str(conf), "x@example.com"], env=mailout.env(),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=lambda: os.close(0))
    assert p.returncode == 74 and server.received_nothing(), p
    assert b"standard input is closed" in p.stderr


def test_added_headers_and_full_name(server, send):
    res = send(server, ["-F", "Backup Robot", "-f", "robot@example.com", "x@example.com"],
               message(["Subject: only a subject"]))
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert m.headers("From") == [b"From: Backup Robot <robot@example.com>"]
    assert re.match(rb"Date: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$", m.headers("Date")[0])
    assert re.match(rb"Message-ID: <[^@>]+@example\.com>$", m.headers("Message-ID")[0])


def test_existing_headers_are_kept_byte_for_byte(server, send):
    msg = full_message(extra=["X-Folded: one\r\n\ttwo", "X-Odd:   spaced  "], nl="\r\n")
    res = send(server, ["x@example.com"], msg)
    assert res.rc == EX_OK, res
    assert server.messages[0].data == msg


@pytest.mark.parametrize("arg,want", [(["-f", ""], "<>"), (["-f", "<>"], "<>"),
                                      (["-r", "r@example.com"], "r@example.com"),
                                      (["-f<b@example.com>"], "b@example.com"),
                                      (["-f", "Bounce <b@example.com>"], "b@example.com"),
                                      (["-r", '"A, B" <r@example.com>'], "r@example.com"),
                                      (["-f", "Mail Delivery System <>"], "<>")])
def test_sender_options(server, send, arg, want):
    """-f and -r take what Postfix's sendmail takes: an address, bare or in
    angle brackets, or with a display name (the address is kept)."""
    res = send(server, arg + ["x@example.com"], full_message())
    assert res.rc == EX_OK and server.messages[0].mail_from == want, res


@pytest.mark.parametrize("value,why", [("a@example.com, b@example.com", "give one address"),
                                       ("<a@example.com", "missing '>'"),
                                       (",", "give one address"),
                                       ("Name <a@@example.com>", "more than one '@'")])
def test_sender_option_that_is_not_one_address(server, send, value, why):
    res = send(server, ["-f", value, "x@example.com"], full_message())
    assert res.rc == EX_USAGE and server.received_nothing(), res
    assert re.search(r"^mailout: sender: \S", res.stderr, re.M) and why in res.stderr, res


def test_read_envelope_from_and_account_from(server, send):
    res = send(server, ["--read-envelope-from", "x@example.com"],
               full_message(frm='"Me" <me@example.org>'))
    assert res.rc == EX_OK and server.messages[0].mail_from == "me@example.org", res
    res = send(server, ["x@example.com"], message(["Subject: s"]), **{"from": "acct@example.com"})
    assert res.rc == EX_OK and server.messages[1].mail_from == "acct@example.com", res
    assert server.messages[1].headers("From") == [b"From: acct@example.com"]


@pytest.mark.parametrize("arg", ["a@example.com\r\nRCPT TO:<evil@example.com>",
                                 "a@example.com\nX", "Name <a@example.com>\r\n"])
def test_line_breaks_in_recipients_are_refused(server, send, arg):
    res = send(server, [arg], full_message())
    assert res.rc == EX_USAGE and server.received_nothing(), res


def test_line_breaks_in_sender_and_name_are_refused(server, send):
    assert send(server, ["-f", "a@example.com\r\nRCPT TO:<e@example.com>", "x@example.com"],
                full_message()).rc == EX_USAGE
    assert send(server, ["-F", "Name\r\nBcc: e@example.com", "x@example.com"],
                full_message()).rc == EX_USAGE
    assert server.received_nothing()


def test_header_with_nul_is_refused(server, send):
    res = send(server, ["x@example.com"], b"Subject: a\x00b\n\nbody\n")
    assert res.rc == EX_DATAERR and server.received_nothing(), res


def test_no_recipients_and_unknown_option(server, send):
    res = send(server, [], full_message())
    assert res.rc == EX_USAGE and "no recipients" in res.stderr
    res = send(server, ["-t"], message(["Subject: nobody"]))
    assert res.rc == EX_USAGE
    res = send(server, ["-Z", "x@example.com"], full_message())
    assert res.rc == EX_USAGE and "-Z" in res.stderr


# ---- configuration errors ----

def test_config_error_names_file_and_true_line(mailout):
    text = "# one\n# two\n/* three\n four */\n// five\naccount \"a\" {\n  host = \"h\"\n  bogus = 1\n}\n"
    conf = mailout.write_config(text)
    res = mailout.run(["--show-config"], config_file=conf)
    assert res.rc == EX_CONFIG and "%s:8:" % conf in res.stderr, res


def test_password_in_a_readable_file_is_refused(mailout, server):
    conf = mailout.write_config(relay_config(server, password="pw", user="u"), mode=0o644)
    res = mailout.run(["x@example.com"], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and "chmod 600" in res.stderr and "pw" not in res.stderr, res


def test_no_core_dump_while_a_password_is_in_memory(mailout, server):
    """The password is in memory from the moment the configuration is parsed,
    long before any connection: the core limit must be zero by then (here:
    while mailout still waits for the message on standard input)."""
    import subprocess
    import time
    conf = mailout.write_config(relay_config(server, password="pw-in-memory", user="u"))
    p = subprocess.Popen([mailout.bin, "-C", str(conf), "x@example.com"], stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=mailout.env())
    try:
        p.stdin.write(b"Subject: waiting\n\n")
        p.stdin.flush()
        time.sleep(0.5)
        limits = open("/proc/%d/limits" % p.pid).read()
        core = [l for l in limits.splitlines() if l.startswith("Max core file size")][0]
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        p.stdin.close()
        p.wait(30)


# ---- dry run, show-config, verbose ----

def test_dry_run_sends_nothing(server, send):
    res = send(server, ["--dry-run", "-f", "me@example.com", "a@example.com"],
               message(["Subject: dry", "Bcc: b@example.com"]))
    assert res.rc == EX_OK and server.received_nothing(), res
    head, _, msg = res.out.partition(b"\n\n")
    assert b"Envelope-From: <me@example.com>" in head and b"Envelope-To: <a@example.com>" in head
    assert b"Subject: dry\r\n" in msg and b"Bcc" not in msg


def test_show_config_masks_the_password(mailout, server):
    conf = mailout.write_config(relay_config(server, user="u", password="Very-Secret-1"))
    res = mailout.run(["--show-config"], config_file=conf)
    assert res.rc == EX_OK and "Very-Secret-1" not in res.stdout and "********" in res.stdout


@pytest.mark.parametrize("mech", ["plain", "login"])
def test_verbose_transcript_redacts_credentials(smtpd, send, mech):
    srv = smtpd("starttls", auth=True)
    res = send(srv, ["-v", "-v", "a@example.com"], full_message(), auth=mech)
    assert res.rc == EX_OK, res
    out = res.stdout + res.stderr
    assert "--> MAIL FROM" in out and "[redacted]" in out
    secrets = [srv.password, base64.b64encode(srv.password.encode()).decode(),
               base64.b64encode(("\0%s\0%s" % (srv.user, srv.password)).encode()).decode()]
    for s in secrets:
        assert s not in out, s
