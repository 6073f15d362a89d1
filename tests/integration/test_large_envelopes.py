"""Large envelopes and replies mailout cannot read after the final dot.

- An envelope of more than 100 recipients goes out in transactions of at
  most 100 (RFC 5321 4.5.3.1.8: every relay takes 100; libcurl caps the
  replies of one transaction at 300 KiB), each recipient once.
- A recipient of a transaction that failed for now is queued; the others,
  which got the message, are not sent it again.
- After the final dot, a reply that cannot be read counts as accepted (with
  a warning): the relay may have taken the message (SPEC 10).  No reply at
  all stays temporary (test_exit_codes.py).
"""
from mailout_run import EX_OK, EX_TEMPFAIL, account_block, conf_value, full_message
from raw_servers import EnvelopeRelay


def config(mailout, srv, queue="never"):
    g = {"queue": queue, "queue_dir": str(mailout.tmp / "queue"), "default_account": "r"}
    text = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items())
    return text + account_block("r", {"host": srv.host, "port": srv.port, "tls": "off",
                                      "timeout": 5, "domain": "client.example.test"})


def rcpts(n):
    return ["user{:05d}@example.com".format(i) for i in range(n)]


def queued(mailout):
    d = mailout.tmp / "queue" / "q"
    return sorted(p for p in d.iterdir() if "." not in p.name) if d.exists() else []


def envelope_rcpts(path):
    env = path.read_bytes().split(b"\n\n", 1)[0].decode()
    return sorted(l.split(" ", 1)[1] for l in env.splitlines() if l.startswith("rcpt "))


def test_a_large_envelope_goes_in_transactions_of_at_most_100(mailout, smtpd):
    srv = smtpd("plain")
    to = rcpts(250)
    res = mailout.run(to, full_message(subject="many"), config=config(mailout, srv), timeout=60)
    assert res.rc == EX_OK, res
    assert [len(m.rcpt_tos) for m in srv.messages] == [100, 100, 50]
    assert sorted(r for m in srv.messages for r in m.rcpt_tos) == to
    assert len({m.data for m in srv.messages}) == 1, "every transaction carries the same message"


def test_verbose_relay_replies_do_not_stop_a_large_envelope(mailout):
    """libcurl refuses more than 300 KiB of replies in one transaction
    ("Too large response headers"): 1,000 recipients answered with 400-byte
    lines never went out, and were queued again on every run."""
    srv = EnvelopeRelay(rcpt_reply=lambda line: b"250 2.1.5 " + b"x" * 400 + b"\r\n")
    try:
        to = rcpts(1000)
        res = mailout.run(to, full_message(), config=config(mailout, srv), timeout=120)
    finally:
        srv.stop()
    assert res.rc == EX_OK, res
    assert len(srv.transactions) == 10
    assert sorted(r for t in srv.transactions for r in t[0]) == to


def test_a_deferred_transaction_queues_only_its_recipients(mailout):
    """The second transaction is deferred at MAIL FROM: its recipients are
    queued, the first hundred got the message and are not sent it again."""
    srv = EnvelopeRelay(mail_reply=lambda n: b"451 4.3.0 later\r\n" if n == 2
                        else b"250 2.1.0 ok\r\n")
    try:
        to = rcpts(150)
        conf = mailout.write_config(config(mailout, srv, queue="onfail"))
        res = mailout.run(["-C", str(conf)] + to, full_message(subject="split"), timeout=60)
        assert res.rc == EX_OK and "queued" in res.stderr, res
        assert [len(t[0]) for t in srv.transactions] == [100]
        files = queued(mailout)
        assert len(files) == 1 and envelope_rcpts(files[0]) == to[100:], files
        q = mailout.run(["-C", str(conf), "-q"], timeout=60)
        assert q.rc == EX_OK, q
    finally:
        srv.stop()
    delivered = [r for t in srv.transactions for r in t[0]]
    assert sorted(delivered) == to, "each recipient exactly once"
    assert queued(mailout) == []


def unreadable_dot(mailout, dot_reply):
    srv = EnvelopeRelay(dot_reply=dot_reply, close_after_dot=True)
    try:
        conf = mailout.write_config(config(mailout, srv, queue="onfail"))
        res = mailout.run(["-C", str(conf), "rcpt@example.com"], full_message(), timeout=60)
        q = mailout.run(["-C", str(conf), "-q"], timeout=60)
    finally:
        srv.stop()
    return srv, res, q


def test_a_malformed_reply_to_the_final_dot_is_not_sent_again(mailout):
    srv, res, q = unreadable_dot(mailout, lambda n: b"hello, this is no reply\r\n")
    assert res.rc == EX_OK and "queued" not in res.stderr, res
    assert "warning" in res.stderr and "not sent again" in res.stderr, res
    assert queued(mailout) == [] and len(srv.transactions) == 1, (res, q)


def test_a_reply_too_large_for_libcurl_after_the_final_dot_is_not_sent_again(mailout):
    big = b"".join(b"250-" + b"y" * 500 + b"\r\n" for _ in range(700)) + b"250 ok\r\n"
    srv, res, q = unreadable_dot(mailout, lambda n: big)
    assert res.rc == EX_OK and "queued" not in res.stderr, res
    assert "warning" in res.stderr, res
    assert queued(mailout) == [] and len(srv.transactions) == 1, (res, q)


def test_a_closed_connection_after_the_final_dot_stays_temporary(mailout):
    """No reply at all: the message may not have arrived, and RFC 1047
    prefers a duplicate to a loss."""
    srv = EnvelopeRelay(dot_reply=lambda n: b"", close_after_dot=True)
    try:
        res = mailout.run(["rcpt@example.com"], full_message(), config=config(mailout, srv),
                          timeout=60)
    finally:
        srv.stop()
    assert res.rc == EX_TEMPFAIL, res
