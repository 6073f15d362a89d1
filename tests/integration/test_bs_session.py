"""SMTP on standard input (-bs, SPEC 5, issue 5), driven by Python's smtplib
over the process's pipes and by raw pipelined dialogues."""
import subprocess
import fcntl
import os
import threading
import time

import pytest

from mailout_run import full_message, relay_config
from mailout_run import PipeSMTP, queued


def bs(mailout, srv, *extra, **globals_):
    conf = mailout.write_config(relay_config(srv, globals_=globals_ or None))
    return [mailout.bin, "-C", str(conf), "-bs", *extra], mailout.env()


def raw(mailout, srv, dialogue, *extra, **globals_):
    argv, env = bs(mailout, srv, *extra, **globals_)
    p = subprocess.run(argv, input=dialogue, capture_output=True, env=env, timeout=30)
    return [l for l in p.stdout.decode().split("\r\n") if l], p


def codes(lines):
    """Reply codes of the final line of each reply."""
    return [int(l[:3]) for l in lines if len(l) > 3 and l[3] == " "]


def test_smtplib_session_with_two_messages(mailout, server):
    argv, env = bs(mailout, server)
    s = PipeSMTP(argv, env)
    code, caps = s.ehlo("php.example")
    assert code == 250 and b"PIPELINING" in caps
    msg = full_message(subject="one", extra=["Bcc: hidden@example.com"]).decode()
    assert s.sendmail("app@example.com", ["a@example.com", "hidden@example.com"], msg) == {}
    s.rset()
    assert s.noop()[0] == 250
    s.sendmail("", ["b@example.com"], "Subject: two\r\n\r\nsecond\r\n.dot line\r\n")
    s.quit()
    assert s.proc.wait(10) == 0
    first, second = server.messages
    assert first.mail_from == "app@example.com"
    assert sorted(first.rcpt_tos) == ["a@example.com", "hidden@example.com"]
    assert b"Bcc:" not in first.data
    assert second.mail_from == "<>" and second.headers("Message-ID") and second.headers("Date")
    assert b"\r\n.dot line\r\n" in second.data


def test_pipelined_dialogue_gets_every_reply_in_order(mailout, server):
    dialogue = (b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                b"DATA\r\nSubject: p\r\n\r\nbody\r\n..x\r\n.\r\nNOOP\r\nQUIT\r\n")
    lines, p = raw(mailout, server, dialogue)
    assert codes(lines) == [220, 250, 250, 250, 354, 250, 250, 221], lines
    assert server.messages[0].body == b"body\r\n.x\r\n"


def test_commands_out_of_order_and_long_lines(mailout, server):
    dialogue = (b"HELO x\r\nRCPT TO:<b@example.com>\r\nDATA\r\nMAIL FROM:<a@example.com>\r\n"
                b"MAIL FROM:<c@example.com>\r\nDATA\r\n" + b"NOOP " + b"x" * 5000 + b"\r\n"
                b"RSET\r\nFOO\r\nQUIT\r\n")
    lines, p = raw(mailout, server, dialogue)
    assert codes(lines) == [220, 250, 503, 503, 250, 503, 554, 500, 250, 500, 221], lines
    assert server.messages == []


def test_relay_refusal_is_the_reply_to_the_dot(mailout, smtpd):
    srv = smtpd("plain", data="554 5.7.1 rejected by policy")
    lines, p = raw(mailout, srv, b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                                 b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: r\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert lines[-2].startswith("554") and "rejected by policy" in lines[-2], lines


def test_relay_down_means_queued(mailout, refused_port, tmp_path):
    lines, p = raw(mailout, refused_port,
                   b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                   b"DATA\r\nSubject: q\r\n\r\nx\r\n.\r\nQUIT\r\n",
                   queue="onfail", queue_dir=str(tmp_path / "queue"))
    assert lines[-2].startswith("250") and "queued as" in lines[-2], lines
    assert queued(tmp_path)


def test_relay_down_without_queue_is_451(mailout, refused_port):
    lines, p = raw(mailout, refused_port,
                   b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                   b"DATA\r\nSubject: q\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert lines[-2].startswith("451"), lines


@pytest.mark.parametrize("extra", [(), ("-odb", "-oem")], ids=["symfony", "alpine"])
def test_real_invocations(mailout, server, extra):
    lines, p = raw(mailout, server, b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                                    b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n.\r\nQUIT\r\n",
                   *extra)
    assert codes(lines)[-2:] == [250, 221] and len(server.messages) == 1, lines


def test_injection_in_mail_from_is_refused(mailout, server):
    lines, p = raw(mailout, server, b"EHLO x\r\nMAIL FROM:<a@example.com> \r\n"
                                    b"MAIL FROM:<a b@example.com>\r\nQUIT\r\n")
    assert codes(lines)[2] == 250 and codes(lines)[3] in (503, 553), lines


def test_non_ascii_addresses_are_553_5_6_7(mailout, server):
    """No SMTPUTF8 is offered: a UTF-8 address is refused at MAIL and RCPT
    (Postfix's 5.6.7), instead of relayed raw to a relay that did not offer
    SMTPUTF8 either."""
    lines, p = raw(mailout, server, "EHLO x\r\nMAIL FROM:<ö@example.com>\r\n"
                                    "MAIL FROM:<a@example.com>\r\n"
                                    "RCPT TO:<b@münchen.example>\r\nQUIT\r\n".encode())
    assert codes(lines)[2:5] == [553, 250, 553], lines
    assert all("5.6.7" in l for l in lines if l.startswith("553")), lines
    assert server.received_nothing()


def test_bare_lf_client_gets_the_reply_to_the_dot_without_closing(mailout, server):
    """A client that ends lines with LF only and waits for each reply (as
    some PHP code does) must get the answer to ".\\n" while its stdin is
    still open."""
    argv, env = bs(mailout, server)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=env)
    try:
        p.stdin.write(b"HELO x\nMAIL FROM:<a@example.com>\nRCPT TO:<b@example.com>\nDATA\n"
                      b"Subject: lf\n\nbody\n.\n")
        p.stdin.flush()
        got = b""
        timer = threading.Timer(10, p.kill)     # a stall fails instead of hanging
        timer.start()
        while got.count(b"\r\n") < 6:
            chunk = p.stdout.read1(4096)
            if not chunk:
                break
            got += chunk
        timer.cancel()
        assert codes(got.decode().split("\r\n")) == [220, 250, 250, 250, 354, 250], got
        assert len(server.messages) == 1 and server.messages[0].body == b"body\r\n"
    finally:
        p.stdin.close()
        p.wait(10)


def test_partial_delivery_answers_250_for_the_accepted_recipients(mailout, smtpd):
    """With partial_delivery on, a message that reached some recipients must
    not get a failure reply: the client would send it again to them too."""
    srv = smtpd("plain", rcpt_for={"bad@example.com": "550 5.1.1 no such user"})
    conf = mailout.write_config(relay_config(srv, partial_delivery=True))
    p = subprocess.run([mailout.bin, "-C", str(conf), "-bs"], capture_output=True,
                       env=mailout.env(), timeout=30,
                       input=b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<good@example.com>\r\n"
                             b"RCPT TO:<bad@example.com>\r\nDATA\r\nSubject: p\r\n\r\nx\r\n.\r\n"
                             b"QUIT\r\n")
    lines = [l for l in p.stdout.decode().split("\r\n") if l]
    assert lines[-2].startswith("250 ") and "1 of 2" in lines[-2], lines
    assert [m.rcpt_tos for m in srv.messages] == [["good@example.com"]]
    assert "bad@example.com" in p.stderr.decode() and "550 5.1.1" in p.stderr.decode()


def test_every_recipient_refused_is_the_relays_reply_even_with_partial_delivery(mailout,
                                                                              smtpd):
    srv = smtpd("plain", rcpt="550 5.1.1 no such user")
    conf = mailout.write_config(relay_config(srv, partial_delivery=True))
    p = subprocess.run([mailout.bin, "-C", str(conf), "-bs"], capture_output=True,
                       env=mailout.env(), timeout=30,
                       input=b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                             b"DATA\r\nSubject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    lines = [l for l in p.stdout.decode().split("\r\n") if l]
    assert lines[-2].startswith("550") and srv.messages == [], lines


def test_relay_4xx_at_the_dot_is_the_reply_without_a_queue(mailout, smtpd):
    srv = smtpd("plain", data="451 4.3.2 try again in a minute")
    lines, p = raw(mailout, srv, b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                                 b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: r\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert lines[-2].startswith("451") and "try again in a minute" in lines[-2], lines


@pytest.mark.parametrize("cmd", [b"EHLO", b"HELO", b"EHLO "])
def test_greeting_without_a_name_is_a_syntax_error(mailout, server, cmd):
    lines, p = raw(mailout, server, cmd + b"\r\nQUIT\r\n")
    assert codes(lines) == [220, 501, 221], lines


@pytest.mark.parametrize("hidden", [
    b"user text\n.\n", b"user text\r\n.\n", b"user text\n.\r\n", b"user text\r.\r\n"],
    ids=["lf-dot-lf", "crlf-dot-lf", "lf-dot-crlf", "cr-dot-crlf"])
def test_smtp_smuggling_through_bare_line_ends_is_content(mailout, server, hidden):
    """CVE-2023-51764 and kin: text in a message that a CRLF client sends as
    content must never end DATA and become commands of its own."""
    smuggled = (b"MAIL FROM:<ceo@example.com>\r\nRCPT TO:<victim@example.org>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nwire money\r\n")
    lines, p = raw(mailout, server,
                   b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                   b"Subject: s\r\n\r\n" + hidden + smuggled + b".\r\nQUIT\r\n")
    assert codes(lines) == [220, 250, 250, 250, 354, 250, 221], lines
    assert len(server.messages) == 1, [m.rcpt_tos for m in server.messages]
    m = server.messages[0]
    assert m.rcpt_tos == ["b@example.com"] and m.mail_from == "a@example.com"
    assert b"MAIL FROM:<ceo@example.com>" in m.body, m.body


def test_control_characters_in_a_command_are_refused(mailout, server):
    lines, p = raw(mailout, server, b"EHLO x\r\nMAIL FROM:<s@example.com>\rRCPT TO:<evil@x>\r\n"
                                    b"MAIL FROM:<s@example.com>junk\r\nMAIL FROM:<s@example.com> BODY=8BITMIME\r\n"
                                    b"QUIT\r\n")
    assert codes(lines) == [220, 250, 501, 501, 250, 221], lines


SMUGGLE = (b"Subject: s\r\n\r\nuser text\n.\nMAIL FROM:<ceo@example.com>\r\n"
           b"RCPT TO:<victim@example.org>\r\nDATA\r\nSubject: smuggled\r\n\r\nwire money\r\n"
           b".\r\nQUIT\r\n")


@pytest.mark.parametrize("split", [None, 2060], ids=["one-write", "two-writes"])
def test_overlong_first_command_does_not_make_a_crlf_client_bare_lf(mailout, server, split):
    """A CRLF client whose first command is too long (and so arrives in more
    than one read) is still a CRLF client: LF . LF in its data is content."""
    first = b"EHLO " + b"h" * (70000 if split is None else 2100) + b"\r\n"
    rest = b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
    if split is None:
        lines, p = raw(mailout, server, first + rest + SMUGGLE)
    else:
        argv, env = bs(mailout, server)
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        for chunk in (first[:split], first[split:], rest, SMUGGLE):
            p.stdin.write(chunk)
            p.stdin.flush()
            time.sleep(0.2)
        out, _ = p.communicate(timeout=30)
        lines = [l for l in out.decode().split("\r\n") if l]
    assert codes(lines) == [220, 500, 250, 250, 250, 354, 250, 221], lines
    assert len(server.messages) == 1 and server.messages[0].rcpt_tos == ["b@example.com"]
    assert b"MAIL FROM:<ceo@example.com>" in server.messages[0].body


@pytest.mark.parametrize("order", [("-bs", "--dry-run"), ("--dry-run", "-bs")])
def test_dry_run_with_bs_is_a_usage_error(mailout, server, order):
    """Standard output is the SMTP channel in -bs mode: the dry-run text would
    be read as replies, and the reply to the dot said "delivered"."""
    conf = mailout.write_config(relay_config(server))
    p = subprocess.run([mailout.bin, "-C", str(conf), *order], capture_output=True,
                       env=mailout.env(), timeout=30,
                       input=b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\n"
                             b"DATA\r\nSubject: t\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert p.returncode == 64 and p.stdout == b"", p
    err = p.stderr.decode().strip()
    assert len(err.splitlines()) == 1 and "--dry-run" in err and "-bs" in err, err
    assert server.messages == [] and server.connections == []


DIALOGUE = (b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
            b"Subject: r\r\n\r\nx\r\n.\r\nQUIT\r\n")


def test_multi_line_relay_refusal_is_passed_on_as_a_multi_line_reply(mailout, smtpd):
    srv = smtpd("plain", data="554-5.7.1 first line\r\n554 5.7.1 second line")
    lines, p = raw(mailout, srv, DIALOGUE)
    assert lines[-3:] == ["554-5.7.1 first line", "554 5.7.1 second line", "221 2.0.0 Bye"], lines


@pytest.mark.parametrize("relay,expect", [
    ("554 no enhanced code", ["554 5.0.0 no enhanced code"]),
    ("451 try later", ["451 4.0.0 try later"]),
    ("550-first\r\n550 second", ["550-5.0.0 first", "550 5.0.0 second"]),
    ("554 5.7.1 kept as it is", ["554 5.7.1 kept as it is"]),
], ids=["5xx", "4xx", "multi-line", "present"])
def test_relay_reply_without_an_enhanced_status_code_gets_one(mailout, smtpd, relay, expect):
    """ENHANCEDSTATUSCODES is announced, so every reply after EHLO carries one
    (RFC 2034): X.0.0 by class (RFC 3463) when the relay gave none."""
    srv = smtpd("plain", data=relay)
    lines, p = raw(mailout, srv, DIALOGUE)
    assert lines[-1 - len(expect):-1] == expect, lines


def test_relay_421_is_passed_on_as_451_and_the_session_goes_on(mailout, smtpd):
    """421 means "closing the channel": the client would take it for this
    session's end, which goes on, so it becomes 451 with the relay's text."""
    srv = smtpd("plain", data="421 4.7.0 closing, too busy")
    lines, p = raw(mailout, srv, DIALOGUE.replace(b"QUIT", b"NOOP\r\nQUIT"))
    assert lines[-3:] == ["451 4.7.0 closing, too busy", "250 2.0.0 Ok", "221 2.0.0 Bye"], lines


def _nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def test_non_blocking_stdin_is_waited_for_not_taken_as_the_end(mailout, server):
    """EAGAIN on a non-blocking standard input means "not yet": the session
    used to end silently right after the greeting, with exit 0."""
    argv, env = bs(mailout, server)
    r, w = os.pipe()
    _nonblocking(r)
    p = subprocess.Popen(argv, stdin=r, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env)
    os.close(r)
    try:
        time.sleep(0.3)
        for chunk in (b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n", b"RCPT TO:<b@example.com>\r\n"
                      b"DATA\r\nSubject: nb\r\n\r\nbody\r\n", b".\r\nQUIT\r\n"):
            os.write(w, chunk)
            time.sleep(0.3)
    finally:
        os.close(w)
    out, err = p.communicate(timeout=30)
    assert codes(out.decode().split("\r\n")) == [220, 250, 250, 250, 354, 250, 221], (out, err)
    assert p.returncode == 0 and len(server.messages) == 1


def test_non_blocking_stdout_is_waited_for(mailout, server):
    """Replies that fill a non-blocking pipe wait for room (EAGAIN), not fail."""
    argv, env = bs(mailout, server)
    r, w = os.pipe()
    _nonblocking(w)
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=w, stderr=subprocess.PIPE,
                         env=env)
    os.close(w)
    p.stdin.write(b"EHLO x\r\n" + b"NOOP\r\n" * 8000 + b"QUIT\r\n")
    p.stdin.close()
    time.sleep(1)                        # the pipe (64 KiB) fills meanwhile
    out = b""
    with os.fdopen(r, "rb") as f:
        out = f.read()
    assert p.wait(30) == 0, p.stderr.read()
    assert codes(out.decode().split("\r\n")) == [220, 250] + [250] * 8000 + [221]


def test_input_ending_inside_data_is_reported(mailout, server):
    lines, p = raw(mailout, server, b"EHLO x\r\nMAIL FROM:<a@example.com>\r\n"
                                    b"RCPT TO:<b@example.com>\r\nDATA\r\nSubject: t\r\n\r\nhal")
    assert codes(lines) == [220, 250, 250, 250, 354] and server.messages == [], lines
    assert "ended inside DATA" in p.stderr.decode() and "not sent" in p.stderr.decode()


def test_read_error_on_stdin_is_exit_74(mailout, server, tmp_path):
    argv, env = bs(mailout, server)
    fd = os.open(str(tmp_path), os.O_RDONLY)     # read() fails with EISDIR
    try:
        p = subprocess.run(argv, stdin=fd, capture_output=True, env=env, timeout=30)
    finally:
        os.close(fd)
    assert p.returncode == 74 and b"cannot read standard input" in p.stderr, p


@pytest.mark.parametrize("rcpt", [b"postmaster", b"PostMaster", b"postmaster@localhost"])
def test_postmaster_is_accepted_and_goes_to_root(mailout, server, tmp_path, rcpt):
    """RFC 5321 4.5.1: a server MUST accept postmaster.  With no alias or
    user of that name it goes to root, and root's alias applies."""
    aliases = tmp_path / "aliases"
    aliases.write_text("root: admin@example.com\n")
    lines, p = raw(mailout, server, b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<" + rcpt +
                   b">\r\nRCPT TO:<nosuchuser9>\r\nDATA\r\nSubject: pm\r\n\r\nx\r\n.\r\nQUIT\r\n",
                   aliases=str(aliases))
    assert codes(lines) == [220, 250, 250, 250, 550, 354, 250, 221], lines
    assert [m.rcpt_tos for m in server.messages] == [["admin@example.com"]]


@pytest.fixture
def small_fs(tmp_path):
    """A 1 MiB tmpfs (root only; skipped elsewhere)."""
    d = tmp_path / "small"
    d.mkdir(mode=0o700)
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(d)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs (needs root)")
    try:
        yield d
    finally:
        subprocess.run(["umount", str(d)], check=True)


def test_full_disk_during_data_is_452_4_3_1_and_reported(mailout, server, small_fs):
    big = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 2300
    lines, p = raw(mailout, server,
                   b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n" +
                   big + b".\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
                   b"Subject: small\r\n\r\nx\r\n.\r\nQUIT\r\n", queue_dir=str(small_fs))
    assert codes(lines) == [220, 250, 250, 250, 354, 452, 250, 250, 354, 250, 221], lines
    assert any(l.startswith("452 4.3.1 ") for l in lines), lines
    assert "cannot store the message" in p.stderr.decode(), p.stderr
    assert "No space left" in p.stderr.decode(), p.stderr
    assert [m.headers("Subject") for m in server.messages] == [[b"Subject: small"]]


def test_source_routes_are_dropped(mailout, server):
    """RFC 5321 4.1.1.3, 3.6.1: a server SHOULD ignore the route."""
    lines, p = raw(mailout, server,
                   b"EHLO x\r\nMAIL FROM:<@a.example,@b.example:s@example.com>\r\n"
                   b"RCPT TO:<@x.example:r@example.com>\r\nRCPT TO:<@x.example:>\r\n"
                   b"DATA\r\nSubject: r\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert codes(lines) == [220, 250, 250, 250, 553, 354, 250, 221], lines
    m, = server.messages
    assert m.mail_from == "s@example.com" and m.rcpt_tos == ["r@example.com"]


@pytest.mark.parametrize("cmd,code", [
    (b"MAIL FROM:<a@example.com> BODY=8BITMIME", 250),
    (b"MAIL FROM:<a@example.com> body=7bit SIZE=12345", 250),
    (b"MAIL FROM:<a@example.com>  SIZE=1 ", 250),
    (b"MAIL FROM:<a@example.com> FOO=bar", 555),
    (b"MAIL FROM:<a@example.com> SMTPUTF8", 555),
    (b"MAIL FROM:<a@example.com> RET=HDRS", 555),
    (b"MAIL FROM:<a@example.com> AUTH=<>", 555),
    (b"MAIL FROM:<a@example.com> BODY=BINARYMIME", 501),
    (b"MAIL FROM:<a@example.com> SIZE=12k", 501),
    (b"MAIL FROM:<a@example.com> SIZE=", 501),
], ids=lambda v: v.decode().split("> ", 1)[1].strip() if isinstance(v, bytes) else str(v))
def test_mail_parameters_are_checked(mailout, server, cmd, code):
    """Postfix: 555 5.5.4 for a parameter it does not support (RFC 5321
    4.1.1.11); SIZE and BODY=7BIT/8BITMIME (announced) are accepted."""
    lines, p = raw(mailout, server, b"EHLO x\r\n" + cmd + b"\r\nQUIT\r\n")
    assert codes(lines) == [220, 250, code, 221], lines
    if code == 555:
        assert "5.5.4 Unsupported option: " + cmd.decode().split()[-1] in lines[-2], lines


def test_rcpt_parameters_are_refused_as_dsn_is_not_announced(mailout, server):
    lines, p = raw(mailout, server,
                   b"EHLO x\r\nMAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.com> NOTIFY=NEVER\r\n"
                   b"RCPT TO:<c@example.com> ORCPT=rfc822;c@example.com\r\nRCPT TO:<d@example.com>\r\n"
                   b"DATA\r\nSubject: p\r\n\r\nx\r\n.\r\nQUIT\r\n")
    assert codes(lines) == [220, 250, 250, 555, 555, 250, 354, 250, 221], lines
    assert [m.rcpt_tos for m in server.messages] == [["d@example.com"]]
