"""Who submitted a message, as the message says it: the full name of an
added From (-F, then NAME from the environment, then the account's
from_name; sendmail and Postfix read NAME), and the Received header that
-bs adds as a server accepting a message (RFC 5321 4.4), naming the
submitting uid."""
import email
import email.policy
import os
import re
import subprocess

import pytest

from mailout_run import EX_OK, login_name, message, relay_config

TO = "rcpt@example.com"
NO_FROM = message(["To: " + TO, "Subject: name"], "body\n")


def from_name(m):
    e = email.message_from_bytes(m.data, policy=email.policy.default)
    return e["From"].addresses[0].display_name


def test_name_from_the_environment_names_an_added_from(server, send):
    res = send(server, [TO], NO_FROM, env={"NAME": "Backup Robot"})
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == "Backup Robot"


def test_dash_f_beats_name(server, send):
    res = send(server, ["-F", "Cron Daemon", TO], NO_FROM, env={"NAME": "Backup Robot"})
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == "Cron Daemon"


def test_name_beats_the_accounts_from_name(server, send):
    res = send(server, [TO], NO_FROM, env={"NAME": "Backup Robot"}, from_name="Account Name")
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == "Backup Robot"


def test_without_name_the_accounts_from_name_stays(server, send):
    res = send(server, [TO], NO_FROM, from_name="Account Name")
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == "Account Name"


def test_name_leaves_a_from_of_the_message_alone(server, send):
    msg = message(["From: Writer <w@example.com>", "To: " + TO, "Subject: x"], "b\n")
    res = send(server, [TO], msg, env={"NAME": "Backup Robot"})
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == "Writer"


@pytest.mark.parametrize("args,want", [
    (["-s", "composed", TO], "Backup Robot"),
    (["-s", "composed", "--from", "Given Name <g@example.com>", TO], "Given Name"),
    (["-s", "composed", "--from", "g@example.com", "-f", "env@example.com", TO],
     "Backup Robot"),
])
def test_name_in_compose_mode_after_the_name_of_from(server, send, args, want):
    res = send(server, args, b"body\n", env={"NAME": "Backup Robot"})
    assert res.rc == EX_OK, res
    assert from_name(server.messages[0]) == want


def test_name_with_a_line_break_is_not_used(server, send):
    res = send(server, [TO], NO_FROM, env={"NAME": "Robot\nBcc: victim@example.com"})
    assert res.rc == EX_OK, res
    m = server.messages[0]
    assert m.rcpt_tos == [TO] and b"victim" not in m.data and b"Robot" not in m.header_bytes


# ---- -bs: the Received header ----

def bs_message(mailout, srv, greeting, nl=b"\r\n"):
    conf = mailout.write_config(relay_config(srv))
    dialogue = nl.join([greeting, b"MAIL FROM:<a@example.com>", b"RCPT TO:<" + TO.encode() + b">",
                        b"DATA", b"Subject: traced", b"", b"body", b".", b"QUIT", b""])
    p = subprocess.run([mailout.bin, "-C", str(conf), "-bs"], input=dialogue,
                       capture_output=True, env=mailout.env(), timeout=30)
    assert p.returncode == 0 and b"250 2.0.0 Ok" in p.stdout, p
    return srv.messages[0]


def received(m):
    """The first header field, unfolded, which must be the Received field."""
    first = m.headers("Received")
    assert first and m.header_bytes.startswith(first[0]), m.header_bytes
    return re.sub(rb"\r\n[ \t]+", b" ", first[0]).decode()


@pytest.mark.parametrize("greeting,proto", [(b"EHLO app.example", "ESMTP"),
                                            (b"HELO app.example", "SMTP")])
def test_bs_adds_received_naming_the_uid(mailout, server, greeting, proto):
    m = bs_message(mailout, server, greeting)
    r = received(m)
    assert r.startswith("Received: from app.example (uid {}, user {})".format(
        os.getuid(), login_name())), r
    assert re.search(r" by \S+ \(mailout\) with {};".format(proto), r), r
    # RFC 5322 date-time after the semicolon
    assert re.search(r"; \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$", r), r
    assert m.headers("Subject") == [b"Subject: traced"] and m.body == b"body\r\n"


def test_bs_received_for_a_bare_lf_client_and_a_strange_greeting(mailout, server):
    m = bs_message(mailout, server, b"EHLO (evil) name;x", nl=b"\n")
    r = received(m)
    assert r.startswith("Received: from localhost (uid {}".format(os.getuid())), r
    assert "evil" not in r
    assert m.headers("Subject") == [b"Subject: traced"] and m.body == b"body\r\n"


def test_a_piped_message_gets_no_received(server, send):
    res = send(server, [TO], NO_FROM)
    assert res.rc == EX_OK, res
    assert server.messages[0].headers("Received") == []
