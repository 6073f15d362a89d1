"""SIZE on MAIL FROM (RFC 1870) when the relay offers it, and never a cut
message (LIBRARY-NOTES trap 1: libcurl 7.88 stops sending once the bytes it
wrote, after its own dot-stuffing, reach the size it was given, and still
reports the relay's 250).  mailout declares the size as libcurl sends it:
the message plus one byte per line that starts with a dot."""
import re

import pytest

from mailout_run import EX_OK, full_message
from raw_servers import EnvelopeRelay
from test_large_envelopes import config

SIZE_EHLO = b"250-size.test\r\n250-SIZE 50000000\r\n250 PIPELINING\r\n"


def unstuff(data):
    """The message as the relay reads it (RFC 5321 4.5.2)."""
    lines = data.split(b"\r\n")
    return b"\r\n".join(l[1:] if l.startswith(b".") else l for l in lines)


def dotted_body(n_lines, every=1):
    return "".join(("." if i % every == 0 else "") + "line %06d\n" % i for i in range(n_lines))


BODIES = {
    "no dots": "hello\n",
    "dot lines": ".\n..\n.x\nx.\n. \n",
    "every line a dot": dotted_body(40000),
    # over 1 MiB, so dot lines fall across the 64 KiB and 512 KiB marks
    # where reads and libcurl's upload buffer are cut
    "dots across buffer edges": "".join(("." if i % 7 == 0 else "") + "%07d " % i + "y" * 90
                                        + "\n" for i in range(12000)),
}


@pytest.mark.parametrize("name", sorted(BODIES))
def test_size_is_declared_and_the_message_arrives_whole(mailout, name):
    srv = EnvelopeRelay(ehlo=SIZE_EHLO)
    msg = full_message(body=BODIES[name])
    try:
        res = mailout.run(["-i", "rcpt@example.com"], msg, config=config(mailout, srv),
                          timeout=60)
    finally:
        srv.stop()
    assert res.rc == EX_OK, res
    assert len(srv.transactions) == 1
    data = srv.transactions[0][1]
    sent = msg.replace(b"\n", b"\r\n")
    assert unstuff(data) == sent, "the message did not arrive whole"
    m = re.search(r" SIZE=(\d+)", srv.mail_lines[0])
    assert m, srv.mail_lines
    assert int(m.group(1)) == len(data) >= len(sent), (m.group(1), len(data), len(sent))


def test_no_size_when_the_relay_does_not_offer_it(mailout):
    srv = EnvelopeRelay()
    try:
        res = mailout.run(["rcpt@example.com"], full_message(), config=config(mailout, srv))
    finally:
        srv.stop()
    assert res.rc == EX_OK, res
    assert "SIZE=" not in srv.mail_lines[0], srv.mail_lines


def test_a_message_over_the_relays_limit_is_refused_before_it_is_sent(mailout):
    """A relay that offers SIZE 10000 refuses a larger declared size at MAIL
    FROM (RFC 1870 552 5.3.4): the message is refused (69) without its
    bytes crossing the wire."""
    seen = []

    def mail_reply(n):
        size = int(re.search(r" SIZE=(\d+)", srv.mail_lines[-1]).group(1))
        seen.append(size)
        return b"552 5.3.4 message size exceeds fixed limit\r\n" if size > 10000 \
            else b"250 2.1.0 ok\r\n"

    srv = EnvelopeRelay(ehlo=b"250-size.test\r\n250 SIZE 10000\r\n", mail_reply=mail_reply)
    try:
        res = mailout.run(["rcpt@example.com"], full_message(body="x" * 80 + "\n" * 200 + "y\n" * 9000),
                          config=config(mailout, srv))
    finally:
        srv.stop()
    assert res.rc == 69 and "552" in res.stderr, res
    assert seen and seen[0] > 10000 and srv.transactions == [], (seen, srv.transactions)
