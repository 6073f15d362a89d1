"""Hostile input (issue 7): messages and relays that misbehave.

Every case runs the real binary against a real server on 127.0.0.1 and
checks what a user relies on: the exit status, a clear "mailout: " line on
stderr, nothing lost (a temporary failure with queue = onfail leaves the
message in queue_dir/q), nothing delivered twice, and no secret in any
output.

Two kinds of relay: aiosmtpd (conftest.py's smtpd fixture) where a fault can
be expressed through its handler, and RawRelay below, a scripted SMTP relay
on a plain socket for what aiosmtpd cannot do (replies split into 1-3 byte
writes, megabyte reply lines, bogus reply codes, garbage after STARTTLS,
closing the connection at any step).
"""
import base64
import os
import resource
import socket
import threading
import time
from pathlib import Path

import pytest

from mailout_run import (EX_DATAERR, EX_OK, EX_PROTOCOL, account_block, assert_stderr_prefixed,
                         conf_value, full_message)


# --------------------------------------------------------------------------
# Recipients: de-duplication must not be quadratic
# --------------------------------------------------------------------------

def to_header(n, per_line=1):
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
