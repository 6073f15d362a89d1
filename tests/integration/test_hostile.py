"""Hostile input (issue 7): messages and relays that misbehave.

Every case runs the real binary against a real server on 127.0.0.1 and
checks what a user relies on: the exit status, a clear "mailout: " line on
stderr, nothing lost (a temporary failure with queue = onfail leaves the
message in queue_dir/q), nothing delivered twice, and no secret in any
output.

Two kinds of relay: aiosmtpd (conftest.py's smtpd fixture) where a fault can
be expressed through its handler, and RawRelay (raw_servers.py), a scripted SMTP relay
on a plain socket for what aiosmtpd cannot do (replies split into 1-3 byte
writes, megabyte reply lines, bogus reply codes, garbage after STARTTLS,
closing the connection at any step).
"""
import base64
import os
import resource
import subprocess

import pytest

from mailout_run import (EX_DATAERR, EX_NOUSER, EX_OK, EX_PROTOCOL, EX_UNAVAILABLE, Result,
                         account_block, assert_stderr_prefixed, conf_value, full_message)
from mailout_run import (INSTRUMENTED_ASAN, INSTRUMENTED_WRAPPER, assert_no_secret, instrumented,
                         queued)
from raw_servers import PASSWORD, STAGES, USER


# --------------------------------------------------------------------------
# Running mailout with a queue, a log and credentials, and checking
# --------------------------------------------------------------------------

def hostile_config(mailout, srv, queue="onfail", user=USER, password=PASSWORD, **acct):
    """queue_dir and logfile under the test's directory, one account "relay"
    with user and password (plain AUTH, no TLS unless acct says so)."""
    g = {"queue": queue, "queue_dir": str(mailout.tmp / "queue"),
         "logfile": str(mailout.tmp / "mail.log"), "default_account": "relay"}
    a = {"host": srv.host, "port": srv.port, "tls": "off", "timeout": 3,
         "domain": "client.example.test", "user": user, "password": password}
    if user is None:
        a.pop("user"), a.pop("password")
    a.update(acct)
    text = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items())
    text += account_block("relay", a)
    path = mailout.tmp / "hostile.conf"
    path.write_text(text)
    os.chmod(path, 0o600)
    return path


def secret_forms(user=USER, password=PASSWORD):
    """The password as it could leak: raw, base64 (AUTH LOGIN), the AUTH
    PLAIN response with and without an authorisation identity."""
    b64 = lambda s: base64.b64encode(s.encode()).decode()  # noqa: E731
    return {password, b64(password), b64("\0{}\0{}".format(user, password)),
            b64("{0}\0{0}\0{1}".format(user, password))}


def assert_no_leak(mailout, res, password=PASSWORD, user=USER):
    """Neither stdout, stderr, the log file nor any file under queue_dir
    holds the password in any of its forms."""
    assert_no_secret(res, *secret_forms(user, password),
                     paths=[mailout.tmp / "mail.log", mailout.queue_dir])


def check(mailout, res, rc, *, queued_n=0, stderr=None):
    """Exit status rc, stderr lines all "mailout: "-prefixed (some when rc is
    not 0 or something was queued), queued_n messages in queue_dir/q, and
    no secret anywhere."""
    assert res.rc == rc, res
    if rc != 0 or queued_n:
        assert_stderr_prefixed(res)
    else:
        assert all(l.startswith("mailout: ") for l in res.stderr.splitlines() if l.strip()), res
    if stderr:
        assert stderr in res.stderr, res
    assert len(queued(mailout)) == queued_n, (queued(mailout), str(res))
    if queued_n:
        assert "queued as" in res.stderr, res
    assert_no_leak(mailout, res)


# --------------------------------------------------------------------------
# Recipients: de-duplication must not be quadratic
# --------------------------------------------------------------------------

def to_header(n):
    return "To: " + ",\n ".join("user{}@example.com".format(i) for i in range(n)) + "\n"


def test_50000_recipients_by_t_take_bounded_cpu(mailout):
    """-t with 50,000 distinct recipients in one To: header (2.3 MB), dry run.

    A complexity guard, not a speed benchmark: every recipient is checked
    against those already collected, and with a linear search per check
    (the old addr_list_contains) this took about 2 minutes of CPU here;
    with the hash index it takes a fraction of a second (a few under
    AddressSanitizer).  CPU time of the child (RUSAGE_CHILDREN), not wall
    time, so a loaded machine does not make it fail; 5 s leaves a margin of
    more than ten times for slow or instrumented builds while any quadratic
    step would exceed it by far."""
    n = 50000
    msg = ("From: a@example.com\n" + to_header(n) + "Subject: many\n\nbody\n").encode()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = mailout.run(["-t", "-i", "--dry-run", "--host", "127.0.0.1"], msg, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime
    assert res.rc == EX_OK, res
    rcpts = [l for l in res.out.split(b"\n") if l.startswith(b"Envelope-To:")]
    assert len(rcpts) == n and len(set(rcpts)) == n
    assert cpu < 5.0, "{:.1f} s of CPU for {} recipients".format(cpu, n)


def test_duplicate_recipients_in_other_case_collapse(mailout):
    """The semantics the index keeps: domains case-insensitive, local parts
    exact; in lists long enough to be indexed."""
    to = ", ".join("u{}@Example.COM".format(i) for i in range(100))
    again = ", ".join("u{}@example.com".format(i) for i in range(100))
    other = ", ".join("U{}@example.com".format(i) for i in range(100))
    msg = "From: a@example.com\nTo: {}\nCc: {}\nBcc: {}\n\nbody\n".format(to, again, other)
    res = mailout.run(["-t", "-i", "--dry-run", "--host", "127.0.0.1", "u5@EXAMPLE.com"],
                      msg.encode())
    assert res.rc == EX_OK, res
    rcpts = [l for l in res.out.split(b"\n") if l.startswith(b"Envelope-To:")]
    assert len(rcpts) == 200, rcpts[:5]


# --------------------------------------------------------------------------
# Hostile messages (aiosmtpd relay with AUTH PLAIN, queue = onfail)
# --------------------------------------------------------------------------

@pytest.fixture
def relay(smtpd):
    return smtpd("plain", auth=True, user=USER, password=PASSWORD)


def send_input(mailout, srv, data, args=("-i", "rcpt@example.com"), timeout=60):
    conf = hostile_config(mailout, srv)
    return mailout.run(list(args), data, config_file=conf, timeout=timeout)


def only_message(srv):
    assert len(srv.messages) == 1, srv.messages
    assert srv.messages[0].auth is not None and srv.messages[0].auth.mechanism == "PLAIN"
    return srv.messages[0]


def test_nul_in_a_header_is_refused(mailout, relay):
    res = send_input(mailout, relay, b"Subject: a\x00b\nTo: x@example.com\n\nbody\n")
    check(mailout, res, EX_DATAERR, stderr="NUL")
    assert relay.received_nothing()


def test_nul_in_the_body_is_delivered_raw(mailout, relay):
    """What happens now (SPEC 3 does not forbid it): body bytes are data,
    NUL included; the relay gets them as they are."""
    res = send_input(mailout, relay, b"Subject: a\n\nbo\x00dy\nline2\x00\n")
    check(mailout, res, EX_OK)
    assert only_message(relay).body == b"bo\x00dy\r\nline2\x00\r\n"


def test_8bit_bytes_in_headers_and_body_are_kept(mailout, relay):
    res = send_input(mailout, relay, b"Subject: caf\xe9 \xff\xfe\x80\n\ncaf\xc3\xa9 \xff\x80\n")
    check(mailout, res, EX_OK)
    m = only_message(relay)
    assert m.headers("Subject") == [b"Subject: caf\xe9 \xff\xfe\x80"]
    assert m.body == b"caf\xc3\xa9 \xff\x80\r\n"


def test_header_section_without_blank_line_at_end_of_input(mailout, relay):
    res = send_input(mailout, relay, b"Subject: a\nX-Foo: b")
    check(mailout, res, EX_OK)
    m = only_message(relay)
    assert m.headers("Subject") == [b"Subject: a"] and m.headers("X-Foo") == [b"X-Foo: b"]
    assert m.body == b""


def test_header_section_without_blank_line_before_the_body(mailout, relay):
    res = send_input(mailout, relay, b"Subject: a\nthis is body text\nmore\n")
    check(mailout, res, EX_OK)
    m = only_message(relay)
    assert m.headers("Subject") == [b"Subject: a"]
    assert m.body == b"this is body text\r\nmore\r\n"


def test_1mb_header_line_is_delivered_whole(mailout, raw_relay):
    """Kept byte for byte (SPEC 3).  aiosmtpd enforces RFC 5321's 1000-byte
    line limit, so this goes to the raw relay, which has none."""
    relay = raw_relay()
    value = b"a" * (1 << 20)
    res = send_input(mailout, relay, b"Subject: " + value + b"\n\nbody\n")
    check(mailout, res, EX_OK)
    assert relay.authenticated == 1 and len(relay.messages) == 1
    assert relay.messages[0][2].startswith(b"Subject: " + value + b"\r\n")
    assert relay.messages[0][2].endswith(b"\r\n\r\nbody\r\n")


def test_1mib_of_continuation_lines_in_one_header(mailout, relay):
    """A header folded over 349,525 lines of 3 bytes.  Each continuation
    line used to re-allocate the header to its exact size: harmless with
    glibc (which grows in place) but quadratic wherever realloc() moves the
    block, as under AddressSanitizer (CI's sanitizer run) and valgrind,
    where 64 K lines took 33 s and 2.2 GB and this would take hours."""
    lines = (1 << 20) // 3
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = send_input(mailout, relay, b"Subject: x\n" + b" a\n" * lines + b"\nbody\n",
                     timeout=120)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime - before.ru_utime
    check(mailout, res, EX_OK)
    assert only_message(relay).headers("Subject") == [b"Subject: x" + b"\r\n a" * lines]
    assert cpu < 10, "{:.1f} s of CPU".format(cpu)


def test_10000_recipients_are_delivered_once_each(mailout, relay):
    n = 10000
    msg = ("From: a@example.com\n" + to_header(n) + "Subject: many\n\nbody\n").encode()
    res = send_input(mailout, relay, msg, args=("-t", "-i"), timeout=120)
    check(mailout, res, EX_OK)
    # In transactions of at most 100 recipients (mailout(1) CAVEATS).
    got = [r for m in relay.messages for r in m.rcpt_tos]
    assert len(got) == n and len(set(got)) == n
    assert max(len(m.rcpt_tos) for m in relay.messages) <= 100
    assert not any(m.headers("Bcc") for m in relay.messages)


GNU_TIME = "/usr/bin/time"


def run_measured(mailout, args, stdin_path, config, timeout=300):
    """Run mailout under GNU time with stdin from a file; returns (exit
    status, stderr, peak RSS in bytes).  GNU time forks mailout from its own
    small process: a child forked from pytest would count the Python pages
    it had before exec."""
    if not os.access(GNU_TIME, os.X_OK):
        pytest.skip("GNU time not installed (Debian package time)")
    rss = mailout.tmp / "rss"
    with open(stdin_path, "rb") as inp:
        p = subprocess.run([GNU_TIME, "-f", "%M", "-o", str(rss), mailout.bin,
                            "-C", str(config)] + list(args), stdin=inp,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=mailout.env(), cwd=str(mailout.tmp), timeout=timeout)
    err = p.stderr.decode("utf-8", "replace")
    # GNU time adds "Command exited with non-zero status N" to stderr.
    err = "".join(l for l in err.splitlines(True) if not l.startswith("Command exited"))
    return p.returncode, err, int(rss.read_text().split()[-1]) * 1024


@pytest.mark.parametrize("shape", ["short-lines", "one-line", "continuations"])
def test_100mb_of_headers_is_refused_with_bounded_memory(mailout, relay, shape):
    """100 MB of header section: refused as soon as it passes the 16 MiB
    limit (MSG_MAX_HEADER_BYTES), with memory bounded by that limit and not
    by the input."""
    path = mailout.tmp / "headers.in"
    size = 100 << 20
    with open(path, "wb") as f:
        if shape == "short-lines":
            block = b"X-A: " + b"b" * 31 + b"\n"
            block *= 4096
        elif shape == "one-line":
            f.write(b"X-A: ")
            block = b"b" * (1 << 20)
        else:
            f.write(b"X-A: x\n")
            block = b" a\n" * 4096
        for _ in range(size // len(block) + 1):
            f.write(block)
        f.write(b"\n\nbody\n")
    conf = hostile_config(mailout, relay)
    rc, err, rss = run_measured(mailout, ["-i", "rcpt@example.com"], path, conf)
    res = Result(args=[], rc=rc, out=b"", err=err.encode(), elapsed=0)
    check(mailout, res, EX_DATAERR, stderr="16 MiB")
    assert relay.received_nothing()
    kind = instrumented(mailout.bin)
    if kind == INSTRUMENTED_WRAPPER:
        return
    # Measured: 45 MB at most (24-45 by shape), 106 MB with ASan.
    limit = (160 if kind == INSTRUMENTED_ASAN else 64) << 20
    assert rss < limit, "{} MB resident for 100 MB of headers".format(rss >> 20)


def test_empty_message_gets_the_required_headers(mailout, relay):
    res = send_input(mailout, relay, b"")
    check(mailout, res, EX_OK)
    m = only_message(relay)
    assert m.headers("From") and m.headers("Date") and m.headers("Message-ID")
    assert m.body == b""


def test_cr_without_lf_in_a_header_is_refused(mailout, relay):
    """A lone CR in a header could end the line for some readers and start a
    new header (Bcc: here) for them."""
    res = send_input(mailout, relay, b"Subject: a\rBcc: evil@example.com\n\nbody\n")
    check(mailout, res, EX_DATAERR, stderr="CR")
    assert relay.received_nothing()


def test_cr_without_lf_in_the_body_is_kept(mailout, relay):
    res = send_input(mailout, relay, b"Subject: a\n\nline\rmore\r\n.\rx\n")
    check(mailout, res, EX_OK)
    assert only_message(relay).body == b"line\rmore\r\n.\rx\r\n"


# --------------------------------------------------------------------------
# Hostile relays (RawRelay)
# --------------------------------------------------------------------------

MSG = full_message(subject="hostile relay test")


def send_relay(mailout, relay, queue="onfail", **acct):
    conf = hostile_config(mailout, relay, queue=queue, **acct)
    return mailout.run(["-i", "rcpt@example.com"], MSG, config_file=conf, timeout=60)


def flush_to_good_relay(mailout, raw_relay):
    """Nothing lost: a queue run against a relay that works delivers the
    queued message, exactly once, and empties the queue."""
    good = raw_relay()
    conf = hostile_config(mailout, good)
    res = mailout.run(["-q"], config_file=conf, timeout=60)
    assert res.rc == EX_OK, res
    assert_no_leak(mailout, res)
    assert len(good.messages) == 1, res
    assert good.messages[0][2].endswith(MSG.replace(b"\n", b"\r\n").split(b"\r\n\r\n", 1)[1])
    assert queued(mailout) == []


def expect_relay_failure(mailout, res, relay, queue, never_rc):
    """The message was not delivered: queued (exit 0, "queued as") with
    queue = onfail, exit never_rc with queue = never; one connection, at
    most one copy handed over."""
    assert relay.connections == 1
    assert len(relay.messages) == 0
    assert len(relay.unanswered) <= 1
    if queue == "onfail":
        check(mailout, res, EX_OK, queued_n=1)
    else:
        check(mailout, res, never_rc, queued_n=0)


def test_replies_split_into_1_to_3_byte_writes(mailout, raw_relay):
    relay = raw_relay(split=True)
    res = send_relay(mailout, relay)
    check(mailout, res, EX_OK)
    assert relay.authenticated == 1 and len(relay.messages) == 1 and relay.connections == 1


@pytest.mark.parametrize("queue", ["onfail", "never"])
@pytest.mark.parametrize("stage", ["ehlo", "mail"])
def test_overlong_reply_line(mailout, raw_relay, stage, queue):
    """A 1 MB reply line (a multi-line EHLO capability, or the reply to
    MAIL): libcurl gives up on it; a temporary failure."""
    relay = raw_relay(long_reply={stage: 1 << 20})
    res = send_relay(mailout, relay, queue=queue)
    expect_relay_failure(mailout, res, relay, queue, 75)
    if queue == "onfail":
        flush_to_good_relay(mailout, raw_relay)


def test_overlong_reply_after_the_dot_is_not_a_duplicate(mailout, raw_relay):
    relay = raw_relay(long_reply={"dot": 1 << 20})
    res = send_relay(mailout, relay)
    assert len(relay.messages) == 1
    check(mailout, res, EX_OK, queued_n=0)


def log_lines(mailout):
    log = mailout.tmp / "mail.log"
    return log.read_text().splitlines() if log.exists() else []


# A code outside 100-599 or none at all; then codes no command but DATA
# (354) and AUTH (334) may get: a 1xx anywhere, a 3xx, and a 2xx to DATA.
BOGUS_REPLIES = [
    ("greeting", b"999 bogus greeting\r\n"),
    ("greeting", b"xyz no code at all\r\n"),
    ("ehlo", b"999 bogus\r\n"),
    ("auth", b"999 bogus\r\n"),
    ("mail", b"999 bogus\r\n"),
    ("rcpt", b"999 bogus\r\n"),
    ("data", b"999 bogus\r\n"),
    ("dot", b"999 bogus\r\n"),
] + [(stage, code + b" weird\r\n") for stage, codes in [
    ("greeting", (b"150", b"354")),
    ("ehlo", (b"150", b"354")),     # HELO, libcurl's fallback, gets the same
    ("auth", (b"150", b"354")),
    ("mail", (b"150", b"354")),
    ("rcpt", (b"150", b"334")),
    ("data", (b"150", b"334", b"250")),
    ("dot", (b"150", b"354")),
] for code in codes]


@pytest.mark.parametrize("queue", ["onfail", "never"])
@pytest.mark.parametrize("stage,reply", BOGUS_REPLIES)
def test_reply_with_a_bogus_code(mailout, raw_relay, stage, reply, queue):
    """A relay that breaks the protocol: queued with queue = onfail, exit 76
    (EX_PROTOCOL) with queue = never.  After the final dot the relay may
    have kept the message: queueing it risks a duplicate, losing it is
    worse (RFC 5321 section 4.1.1.4 leaves the client no way to know).
    Either way stderr quotes the relay, and the log line has its reply as
    smtpstatus and smtpmsg (no status when there was no code)."""
    relay = raw_relay(bogus={stage: reply})
    res = send_relay(mailout, relay, queue=queue)
    expect_relay_failure(mailout, res, relay, queue, EX_PROTOCOL)
    assert len(relay.unanswered) == (1 if stage == "dot" else 0)
    text = reply.decode().rstrip("\r\n")
    assert text in res.stderr, res
    lines = log_lines(mailout)
    assert len(lines) == 1, lines
    assert text in lines[0] and "exitcode=EX_PROTOCOL" in lines[0], lines[0]
    if text[:3].isdigit():
        assert " smtpstatus={} smtpmsg='{}' ".format(text[:3], text) in lines[0], lines[0]
    else:
        assert "smtpstatus=" not in lines[0], lines[0]
    if queue == "onfail":
        flush_to_good_relay(mailout, raw_relay)


def test_a_queue_run_leaves_a_relay_that_breaks_the_protocol(mailout, raw_relay):
    """A protocol error now carries the relay's reply as its status, and
    still counts as the relay being down: a queue run does not try the
    relay's other messages, and keeps them all queued (none to failed/)."""
    relay = raw_relay(bogus={"mail": b"354 weird\r\n"})
    for n in range(3):
        check(mailout, send_relay(mailout, relay), EX_OK, queued_n=n + 1)
    relay = raw_relay(bogus={"mail": b"354 weird\r\n"})
    res = mailout.run(["-q"], config_file=hostile_config(mailout, relay), timeout=60)
    assert relay.connections == 1, res
    assert len(queued(mailout)) == 3, res
    failed = mailout.tmp / "queue" / "failed"
    assert not failed.exists() or not any(failed.iterdir()), res
    # Deferred: in the log, not on stderr (issue 16: cron mails what -q prints).
    assert res.stderr == "" and "354 weird" in (mailout.tmp / "mail.log").read_text(), res
    assert_no_leak(mailout, res)


@pytest.mark.parametrize("mail,rc,text", [
    (None, EX_OK, None),
    (b"550 5.7.1 sender refused\r\n", EX_UNAVAILABLE, "550 5.7.1 sender refused"),
])
def test_a_bogus_ehlo_reply_is_superseded_by_helo(mailout, raw_relay, mail, rc, text):
    """libcurl falls back to HELO when EHLO gets anything but a 2xx: the
    relay that answers HELO properly gets the message (no AUTH without
    EHLO, so no credentials here), and a later refusal decides the
    failure, not the EHLO reply."""
    bogus = {"ehlo": b"150 weird\r\n", "helo": b"250 raw.test.invalid\r\n"}
    if mail:
        bogus["mail"] = mail
    relay = raw_relay(auth=False, bogus=bogus)
    res = send_relay(mailout, relay, queue="never", user=None)
    assert b"HELO" in relay.wire_in
    check(mailout, res, rc, stderr=text)
    assert "150" not in res.stderr, res
    assert len(relay.messages) == (1 if rc == EX_OK else 0)


@pytest.mark.parametrize("stage,reply", [
    ("greeting", b"hello there\r\n220 raw.test.invalid ESMTP\r\n"),
    ("mail", b"just a moment\r\n250 2.1.0 ok\r\n"),
    ("rcpt", b"hmm\r\n250 2.1.5 ok\r\n"),
    ("dot", b"one more thing\r\n250 2.0.0 queued\r\n")])
def test_a_line_without_a_code_before_the_reply_is_read_past(mailout, raw_relay, stage, reply):
    """libcurl reads past a line that has no reply code and takes the
    reply that follows it, so mailout does too: delivered once, nothing
    queued (the line was once taken for a refused recipient, queued and
    sent again by the next run)."""
    relay = raw_relay(bogus={stage: reply})
    res = send_relay(mailout, relay)
    check(mailout, res, EX_OK, queued_n=0)
    # (the relay files a message whose final reply it scripted as unanswered)
    assert len(relay.messages if stage != "dot" else relay.unanswered) == 1
    lines = log_lines(mailout)
    assert len(lines) == 1 and "recipients=rcpt@example.com " in lines[0] and \
        "exitcode=EX_OK" in lines[0], lines


@pytest.mark.parametrize("reply", [b"251 2.1.5 forwarded\r\n", b"299 ok, I guess\r\n"])
def test_another_2xx_to_the_final_dot_is_a_delivery(mailout, raw_relay, reply):
    """libcurl wants 250 after the final dot and fails on any other code;
    a 2xx is still the relay taking the message, so it is not queued
    (which would deliver it twice)."""
    relay = raw_relay(bogus={"dot": reply})
    res = send_relay(mailout, relay)
    check(mailout, res, EX_OK, queued_n=0)
    assert len(relay.unanswered) == 1          # the relay got it, and said so
    lines = log_lines(mailout)
    assert len(lines) == 1 and "exitcode=EX_OK" in lines[0], lines


def test_a_line_without_a_code_does_not_hide_a_later_refusal(mailout, raw_relay):
    """A greeting with a line of chatter before the 220, then a recipient
    refused for good: the refusal decides (67, not queued), not the chatter."""
    relay = raw_relay(bogus={"greeting": b"hello there\r\n220 raw.test.invalid ESMTP\r\n",
                             "rcpt": b"550 5.1.1 no such user\r\n"})
    res = send_relay(mailout, relay)
    check(mailout, res, EX_NOUSER, queued_n=0, stderr="550 5.1.1 no such user")


@pytest.mark.parametrize("queue", ["onfail", "never"])
@pytest.mark.parametrize("when", [True, "delayed"], ids=["at-once", "delayed"])
def test_garbage_after_starttls(mailout, raw_relay, certs, when, queue):
    """220 to STARTTLS, then bytes that are no TLS record.  Nothing goes out
    in plain text after it (no AUTH: the password never left)."""
    relay = raw_relay(starttls_garbage=when)
    res = send_relay(mailout, relay, queue=queue, tls="starttls", tls_trust_file=certs.ca)
    # At once: libcurl sees data after the 220 and calls it a protocol
    # error (76).  Delayed: the TLS handshake fails, which mailout treats
    # as temporary (75); either is right for queue = never.
    assert relay.auth_lines == []
    assert b"MAIL" not in relay.wire_in
    expect_relay_failure(mailout, res, relay, queue, res.rc if res.rc in (75, 76) else 76)
    if queue == "onfail":
        flush_to_good_relay(mailout, raw_relay)


@pytest.mark.parametrize("queue", ["onfail", "never"])
@pytest.mark.parametrize("stage", STAGES)
def test_relay_closes_the_connection(mailout, raw_relay, stage, queue):
    """The relay drops the connection instead of replying, at each step in
    turn.  Before the final dot's reply: a temporary failure (queued, or 75).
    At QUIT: the message was accepted, so it is delivered (exit 0), once."""
    relay = raw_relay(close_at=stage)
    res = send_relay(mailout, relay, queue=queue)
    if stage == "quit":
        check(mailout, res, EX_OK)
        assert len(relay.messages) == 1
        return
    expect_relay_failure(mailout, res, relay, queue, 75)
    if queue == "onfail":
        flush_to_good_relay(mailout, raw_relay)


def test_verbose_redaction_survives_a_line_with_no_code_inside_auth(mailout, raw_relay):
    """log.c ended the AUTH exchange at any line but a 334, so a line with
    no code before the password's 334 printed the password (base64) in -v."""
    relay = raw_relay(chatter=True)
    conf = hostile_config(mailout, relay, auth="login")
    res = mailout.run(["-v", "-i", "rcpt@example.com"], full_message(), config_file=conf)
    assert res.rc == EX_OK and relay.authenticated == 1, res
    assert "--> [redacted]" in res.stderr, res
    assert_no_leak(mailout, res)
