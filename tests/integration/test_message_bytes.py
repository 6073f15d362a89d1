"""The bytes the relay receives: line-ending normalisation, dots, the lone-dot
rule, truncation (LIBRARY-NOTES traps 1 and 2), large messages.

Every input here already has From, To, Subject, Date and Message-ID, so
mailout adds no header and the bytes received must equal the input with
line endings normalised to CRLF.  (The server removes SMTP dot-stuffing;
what we compare is the message as the relay stores it.)

Assumptions:
- A final line without a line ending gets CRLF (HACKING: msg_conv_finish).
- With the lone-dot rule ending the input, mailout still delivers what came
  before the dot, and exits 0 (sendmail semantics), even when more input
  follows the dot.
"""

import re

import pytest

from mailout_run import EX_OK, crlf, full_message

RCPT = "rcpt@example.com"

HEAD_LF = (b"From: sender@example.com\n"
           b"To: rcpt@example.com\n"
           b"Subject: bytes\n"
           b"Date: Mon, 02 Jan 2023 03:04:05 +0000\n"
           b"Message-ID: <bytes.1@example.com>\n"
           b"\n")


def received(srv):
    assert len(srv.messages) == 1, "expected one message, got {}".format(len(srv.messages))
    return srv.messages[0].data


def test_lf_input_becomes_crlf(server, send):
    body = b"line one\nline two\n\nline four\n"
    res = send(server, ["-i", RCPT], HEAD_LF + body)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF + body)


def test_crlf_input_stays_crlf_never_cr_cr_lf(server, send):
    """LIBRARY-NOTES trap 2: CURLOPT_CRLF would turn CRLF into CR CR LF."""
    msg = crlf(HEAD_LF + b"line one\nline two\n")
    res = send(server, ["-i", RCPT], msg)
    assert res.rc == EX_OK, res
    data = received(server)
    assert b"\r\r\n" not in data
    assert data == msg


def test_mixed_line_endings_all_become_crlf(server, send):
    msg = (b"From: sender@example.com\r\n"
           b"To: rcpt@example.com\n"
           b"Subject: mixed\r\n"
           b"Date: Mon, 02 Jan 2023 03:04:05 +0000\n"
           b"Message-ID: <mixed.1@example.com>\r\n"
           b"\n"
           b"lf line\n"
           b"crlf line\r\n"
           b"\r\n"
           b"lf again\n")
    res = send(server, ["-i", RCPT], msg)
    assert res.rc == EX_OK, res
    data = received(server)
    assert b"\r\r\n" not in data
    assert data == crlf(msg)


def test_lone_cr_in_body_is_kept(server, send):
    res = send(server, ["-i", RCPT], HEAD_LF + b"a\rb\nend\n")
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF) + b"a\rb\r\nend\r\n"


def test_last_line_without_newline_gets_crlf(server, send):
    res = send(server, ["-i", RCPT], HEAD_LF + b"first\nno newline at end")
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF) + b"first\r\nno newline at end\r\n"


def normalise(raw: bytes) -> bytes:
    """What SPEC 3 asks for: LF and CRLF become CRLF, a lone CR stays."""
    return re.sub(rb"\r?\n", b"\r\n", raw)


def straddling_body(start: int, blocks: int, term: bytes, filler_term: bytes,
                    block: int = 4096) -> bytes:
    """Lines (at most ~1000 bytes) placed so that the first byte of `term`
    (a CR) falls on the last byte of every `block`-sized chunk of the input,
    counted from the start of the input (`start` bytes before the body).
    Multiples of 4096 cover 4 KiB ... 64 KiB reads."""
    out, pos = bytearray(), start
    for k in range(1, blocks + 1):
        target = k * block - 1                  # where the CR must be
        while target - pos > 992:
            out += b"y" * 900 + filler_term
            pos += 900 + len(filler_term)
        out += b"x" * (target - pos) + term
        pos = target + len(term)
    return bytes(out)


def test_cr_lf_split_across_input_chunks(server, send):
    """A CRLF that straddles a read boundary is still one CRLF, never
    CR CR LF or CR + CRLF."""
    head = crlf(HEAD_LF)
    body = straddling_body(len(head), 256, b"\r\n", b"\r\n")
    res = send(server, ["-i", RCPT], head + body)
    assert res.rc == EX_OK, res
    data = received(server)
    assert b"\r\r\n" not in data
    assert data == head + body


def test_lone_cr_at_the_end_of_an_input_chunk_is_kept(server, send):
    """A CR on the last byte of a read, followed by something other than LF
    in the next read, stays a lone CR; LF-only lines become CRLF."""
    head = HEAD_LF
    body = straddling_body(len(head), 64, b"\rz\n", b"\n")
    res = send(server, ["-i", RCPT], head + body)
    assert res.rc == EX_OK, res
    data = received(server)
    assert data == normalise(head + body)
    assert data.count(b"\rz\r\n") == 64


@pytest.mark.parametrize("nl", [b"\n", b"\r\n"], ids=["lf", "crlf"])
def test_lines_starting_with_dots_arrive_intact(server, send, nl):
    """LIBRARY-NOTES traps 1 and 2: dot-stuffing must not truncate or end
    DATA early, with LF-only or CRLF input."""
    lines = [b".", b"..", b"...", b".leading dot", b"..double", b". space", b"", b"end"]
    body = b"".join(l + nl for l in lines * 50)
    res = send(server, ["-i", RCPT], HEAD_LF.replace(b"\n", nl) + body)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF) + b"".join(l + b"\r\n" for l in lines * 50)


def test_message_of_only_dot_lines_is_complete(server, send):
    """Trap 1: every line stuffed, so the bytes on the wire are far more than
    the spool size; nothing may be cut off at the end."""
    body = b".\n" * 5000 + b"LAST LINE\n"
    res = send(server, ["-oi", RCPT], HEAD_LF + body)
    assert res.rc == EX_OK, res
    data = received(server)
    assert data.endswith(b".\r\nLAST LINE\r\n")
    assert data == crlf(HEAD_LF + body)


def test_large_message_with_dot_lines_is_complete(server, send):
    block = b"".join(b".%05d %s\n" % (i, b"y" * 60) for i in range(20000))   # ~1.4 MB
    res = send(server, ["-i", RCPT], HEAD_LF + block + b"THE END\n", timeout=60)
    assert res.rc == EX_OK, res
    data = received(server)
    assert data == crlf(HEAD_LF + block + b"THE END\n")


def test_lone_dot_ends_input_without_i(server, send):
    msg = HEAD_LF + b"before\n.\nafter\n"
    res = send(server, [RCPT], msg)
    assert res.rc == EX_OK, res
    data = received(server)
    assert data == crlf(HEAD_LF + b"before\n")
    assert b"after" not in data


def test_lone_dot_with_crlf_ends_input_without_i(server, send):
    msg = crlf(HEAD_LF + b"before\n.\nafter\n")
    res = send(server, [RCPT], msg)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF + b"before\n")


@pytest.mark.parametrize("flag", ["-i", "-oi"])
def test_lone_dot_does_not_end_input_with_i(server, send, flag):
    msg = HEAD_LF + b"before\n.\nafter\n"
    res = send(server, [flag, RCPT], msg)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(msg)


def test_dot_lines_other_than_lone_dot_do_not_end_input_without_i(server, send):
    msg = HEAD_LF + b"..\n. \n.x\nend\n"
    res = send(server, [RCPT], msg)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(msg)


def test_lone_dot_on_the_very_first_body_line_without_i(server, send):
    res = send(server, [RCPT], HEAD_LF + b".\nnever sent\n")
    assert res.rc == EX_OK, res
    data = received(server)
    assert b"never sent" not in data
    assert data.startswith(crlf(HEAD_LF)[:-2])


@pytest.mark.parametrize("args,stdin,rc,hint", [
    (["-f", "ö@example.com", "a@example.com"], b"Subject: s\n\nb\n", 64, "sender"),
    (["a@münchen.example"], b"Subject: s\n\nb\n", 64, "xn--"),
    (["-t"], "To: müller@example.com\n\nb\n".encode(), 65, "müller@example.com"),
])
def test_non_ascii_envelope_addresses_are_refused_not_sent_raw(server, send, args, stdin, rc,
                                                               hint):
    """libcurl 7.88 sent UTF-8 addresses raw in MAIL FROM and RCPT TO to a
    relay that never offered SMTPUTF8 (RFC 6531); compose mode already
    refused them."""
    res = send(server, args, stdin)
    assert res.rc == rc, res
    assert "SMTPUTF8" in res.stderr and hint in res.stderr, res
    assert server.received_nothing()


def test_8bit_body_is_passed_unchanged(server, send):
    body = "Grüße, ½ €\n".encode("utf-8") + bytes(range(0x80, 0x100)) + b"\n"
    res = send(server, ["-i", "-B8BITMIME", RCPT], HEAD_LF + body)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF + body)


def test_long_lines_are_not_wrapped(server, send):
    body = b"z" * 990 + b"\n"
    res = send(server, ["-i", RCPT], HEAD_LF + body)
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF + body)


def test_body_lines_over_998_bytes_are_broken_as_postfix_does(server, send):
    """aiosmtpd, like other strict relays, refuses a line over RFC 5321's
    limit with a 5xx: the whole message would be lost.  Postfix's SMTP
    client breaks such lines with CRLF and a space; so does mailout, in the
    body only."""
    body = b"x" * 3000 + b"\n" + b"y" * 998 + b"\n"
    res = send(server, ["-i", RCPT], HEAD_LF + body)
    assert res.rc == EX_OK, res
    got = received(server).split(b"\r\n\r\n", 1)[1]
    assert got == (b"x" * 998 + b"\r\n " + b"x" * 997 + b"\r\n " + b"x" * 997 +
                   b"\r\n " + b"x" * 8 + b"\r\n" + b"y" * 998 + b"\r\n"), got[:80]


def test_leading_mbox_from_line_is_dropped(server, send):
    """HACKING: a leading mbox "From " line in the input is dropped."""
    res = send(server, ["-i", RCPT],
               b"From sender@example.com Mon Jan  2 03:04:05 2023\n" + HEAD_LF + b"body\n")
    assert res.rc == EX_OK, res
    assert received(server) == crlf(HEAD_LF + b"body\n")


def test_empty_body(server, send):
    res = send(server, ["-i", RCPT], full_message(body=""))
    assert res.rc == EX_OK, res
    data = received(server)
    assert data.endswith(b"\r\n")
    assert b"Message-ID: <fixed.1@example.com>\r\n" in data


@pytest.mark.parametrize("how", ["argument", "-t", "-bs"])
def test_return_path_bcc_and_resent_bcc_never_reach_the_relay(mailout, server, how):
    """RFC 5321 4.4: Return-Path is the final delivery's to add; Bcc and
    Resent-Bcc are private.  Removed in every mode, whatever the case."""
    from mailout_run import relay_config
    head = (b"return-path: <old@example.com>\nBCC: hidden@example.com\n"
            b"Resent-bcc: h2@example.com\n" + HEAD_LF[:-1])
    msg = head + b"\nReturn-Path: <in-body@example.com>\n"
    conf = mailout.write_config(relay_config(server))
    if how == "-bs":
        res = mailout.run(["-bs"], b"EHLO c\r\nMAIL FROM:<s@example.com>\r\nRCPT TO:<" +
                          RCPT.encode() + b">\r\nDATA\r\n" + crlf(msg) + b".\r\nQUIT\r\n",
                          config_file=conf)
    else:
        res = mailout.run(["-t"] if how == "-t" else [RCPT], msg, config_file=conf)
    assert res.rc == EX_OK, res
    head, body = received(server).split(b"\r\n\r\n", 1)
    names = [l.split(b":", 1)[0].lower() for l in head.split(b"\r\n")]
    assert not {b"return-path", b"bcc", b"resent-bcc"} & set(names), head
    if how == "-bs":        # -bs adds its Received header on top (RFC 5321 4.4)
        assert head.startswith(b"Received: from c ("), head
        head = head.split(b"\r\n", 3)[3]
    assert head.startswith(crlf(HEAD_LF[:-2])), head
    assert body == b"Return-Path: <in-body@example.com>\r\n"


# ---- a full disk while spooling (SPEC 8: temporary) ----

from test_local_delivery import small_fs  # noqa: E402,F401  (the 64 KiB tmpfs fixture)

BIG_BODY = b"x" * 998 + b"\n"


@pytest.mark.parametrize("mode", ["sendmail", "compose"])
def test_full_disk_while_spooling_is_temporary_and_nothing_is_sent(mailout, server, small_fs,
                                                                  mode):
    """A spool file that could not be completed is not sent (the relay is
    up): 75, as Postfix's sendmail gives, and the message says why.  It was
    74."""
    from mailout_run import EX_TEMPFAIL, relay_config
    conf = mailout.write_config(relay_config(server, globals_={
        "queue": "onfail", "queue_dir": str(small_fs / "queue")}))
    if mode == "compose":
        args, msg = ["-s", "big", RCPT], BIG_BODY * 200
    else:
        args, msg = [RCPT], HEAD_LF + BIG_BODY * 200
    res = mailout.run(args, msg, config_file=conf)
    assert res.rc == EX_TEMPFAIL, res
    assert "No space left" in res.stderr and "nothing was sent" in res.stderr, res
    assert server.received_nothing(), res


def test_file_size_limit_while_spooling_is_temporary(mailout, server, tmp_path):
    """The same rule where no tmpfs can be mounted: RLIMIT_FSIZE makes the
    spool write fail with EFBIG (SIGXFSZ ignored)."""
    import resource
    import signal
    import subprocess
    from mailout_run import EX_TEMPFAIL, relay_config
    conf = mailout.write_config(relay_config(server, globals_={
        "queue": "onfail", "queue_dir": str(tmp_path / "queue")}))

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    p = subprocess.run([mailout.bin, "-C", str(conf), RCPT], input=HEAD_LF + BIG_BODY * 200,
                       capture_output=True, env=mailout.env(), timeout=30, preexec_fn=limit)
    err = p.stderr.decode()
    assert p.returncode == EX_TEMPFAIL, (p.returncode, err)
    assert "File too large" in err and "nothing was sent" in err, err
    assert server.received_nothing(), err
