"""Messages of any size stream through with bounded memory (SPEC 3 and 4):
a 100 MiB message piped in sendmail mode, and a 100 MiB attachment in compose
mode, each sent to Postfix's smtp-sink and checked byte for byte in what the
sink received, with the peak resident set size of the mailout process taken
measured by GNU time and held to 16 MiB.

On an instrumented binary (AddressSanitizer keeps freed memory in quarantine;
valgrind runs the program inside its own process) the peak RSS says nothing
about mailout: the delivery is still checked, and only the memory figure is
reported as skipped.
"""
import base64
import hashlib
import os
import subprocess

import pytest

from mailout_run import EX_OK
from mailout_run import instrumented

MiB = 1 << 20
RSS_LIMIT_KIB = 16 * 1024
GNU_TIME = "/usr/bin/time"
TO = "big@example.com"


def run_measured(mailout, args, stdin_file, timeout=300):
    """Run mailout under GNU time with stdin from a file; return (exit status,
    stderr, peak RSS in KiB).  GNU time forks mailout from its own small
    process: the rusage of a child forked from pytest would count the Python
    pages it had before exec."""
    if not os.access(GNU_TIME, os.X_OK):
        pytest.skip("GNU time not installed (Debian package time)")
    rss = mailout.tmp / "rss"
    with open(stdin_file, "rb") as inp:
        p = subprocess.run([GNU_TIME, "-f", "%M", "-o", str(rss), mailout.bin] + args,
                           stdin=inp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=mailout.env(), cwd=str(mailout.tmp), timeout=timeout)
    return p.returncode, p.stderr.decode("utf-8", "replace"), int(rss.read_text().split()[-1])


def sink_config(mailout, sink, tmp_path):
    return mailout.write_config(
        'queue = never\nqueue_dir = "{}/q"\naccount "sink" {{\n host = "{}"\n port = {}\n'
        ' tls = off\n domain = "client.example.test"\n}}\n'.format(tmp_path, sink.host,
                                                                   sink.port))


def the_dump(sink):
    dumps = sink.dumps()
    assert len(dumps) == 1, dumps
    return dumps[0]


def check_rss(mailout, kib, what):
    why = instrumented(mailout.bin)
    if why:
        pytest.skip("delivery checked; peak RSS {} KiB not meaningful: {}".format(kib, why))
    assert kib <= RSS_LIMIT_KIB, "peak RSS {} KiB for {}".format(kib, what)


def test_100_mib_message_in_sendmail_mode(tmp_path, mailout, sink):
    """LF input with dot lines, '..' lines and 'From ' lines: every byte arrives
    (after CRLF and dot-stuffing on the wire, undone by the sink), memory stays
    bounded."""
    head = (b"From: robot@example.com\nTo: " + TO.encode() + b"\nSubject: big\n"
            b"Date: Mon, 02 Jan 2023 03:04:05 +0000\nMessage-ID: <big.1@example.com>\n\n")
    block = b"".join(b"%s line %06d of the block, some text to fill it up\n" % (lead, i)
                     for i, lead in zip(range(4096), [b"", b".", b"..", b"From", b"x"] * 1000))
    block += b".\n"              # a lone dot: kept with -i
    msg = tmp_path / "big.eml"
    h = hashlib.sha256()
    with open(msg, "wb") as f:
        f.write(head)
        h.update(head)
        while f.tell() < 100 * MiB:
            f.write(block)
            h.update(block)
        size = f.tell()
    conf = sink_config(mailout, sink, tmp_path)
    rc, err, kib = run_measured(mailout, ["-C", str(conf), "-i", TO], msg)
    assert rc == EX_OK, err
    # what the sink received: its own header lines, then our message
    with open(the_dump(sink), "rb") as f:
        prefix = f.read(4096)
        start = prefix.index(b"From: robot@example.com\n")
        f.seek(start)
        got = hashlib.sha256()
        left = size
        while left:
            chunk = f.read(min(left, MiB))
            assert chunk, "the message arrived truncated ({} bytes missing)".format(left)
            got.update(chunk)
            left -= len(chunk)
        assert f.read().strip(b"\n") == b"", "bytes after the end of the message"
    assert got.hexdigest() == h.hexdigest(), "the message arrived altered"
    check_rss(mailout, kib, "a 100 MiB message")


def test_100_mib_attachment_in_compose_mode(tmp_path, mailout, sink):
    att = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(att, "wb") as f:
        for _ in range(100):
            b = os.urandom(MiB)
            f.write(b)
            h.update(b)
    body = tmp_path / "body.txt"
    body.write_bytes(b"The nightly dump is attached.\n")
    conf = sink_config(mailout, sink, tmp_path)
    rc, err, kib = run_measured(mailout, ["-C", str(conf), "-s", "nightly dump", "-a",
                                          str(att), TO], body)
    assert rc == EX_OK, err
    # decode the attachment part line by line: 76-column base64 lines
    got, n = hashlib.sha256(), 0
    with open(the_dump(sink), "rb") as f:
        for line in f:                       # skip to the attachment's headers
            if b'filename="big.bin"' in line or b"filename=big.bin" in line:
                break
        else:
            pytest.fail("no attachment part named big.bin")
        for line in f:                       # then to the blank line
            if line == b"\n":
                break
        for line in f:
            line = line.rstrip(b"\n")
            if line.startswith(b"--"):
                break
            assert len(line) <= 76, "base64 line of {} columns".format(len(line))
            data = base64.b64decode(line, validate=True)
            got.update(data)
            n += len(data)
    assert n == 100 * MiB and got.hexdigest() == h.hexdigest(), "attachment altered"
    check_rss(mailout, kib, "a 100 MiB attachment")
