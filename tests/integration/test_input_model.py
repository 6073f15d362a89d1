"""Randomised check of the input rules of SPEC 3 against a reference model.

mailout's converter (LF/CRLF -> CRLF, a lone CR kept as data, the lone-dot
rule without -i, a lone CR before a dot made a space) is compared with a
straightforward Python model on random
inputs made of the bytes that matter.  --dry-run shows the converted body.
"""
import os
import random
import subprocess

import pytest

BIN = os.environ.get("MAILOUT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "src", "mailout")


def model(data, ignore_dots):
    out = bytearray()
    pos = 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        line = data[pos:] if nl < 0 else data[pos:nl + 1]
        pos = len(data) if nl < 0 else nl + 1
        terminated = line.endswith(b"\n")
        content = line[:-1] if terminated else line
        if terminated and content.endswith(b"\r"):
            content = content[:-1]
        if not ignore_dots and (content == b"." or (not terminated and content == b".\r")):
            break
        # A lone CR before a dot becomes a space (SMTP smuggling, see below).
        out += content.replace(b"\r.", b" .") + b"\r\n"
    return bytes(out)


def body_of(data, ignore_dots, tmp_path):
    args = [BIN, "-C", str(tmp_path / "none.conf"), "--host", "127.0.0.1", "--dry-run"]
    if ignore_dots:
        args.append("-i")
    args.append("rcpt@example.com")
    p = subprocess.run(args, input=b"Subject: t\n\n" + data, capture_output=True, timeout=20,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    return p.stdout.split(b"\r\n\r\n", 1)[1]


@pytest.mark.parametrize("seed", range(8))
def test_random_inputs_match_the_model(seed, tmp_path):
    (tmp_path / "none.conf").write_text('queue_dir = "%s/q"\n' % tmp_path)
    rnd = random.Random(seed)
    for _ in range(25):
        data = bytes(rnd.choice(b"ab.\r\n \x80") for _ in range(rnd.randint(0, 200)))
        for ignore in (False, True):
            assert body_of(data, ignore, tmp_path) == model(data, ignore), (data, ignore)


@pytest.mark.parametrize("body", [b"user text\r.\r\nMAIL FROM:<ceo@example.com>\r\n",
                                  b"user text\r.\rMAIL FROM:<ceo@example.com>\r\n",
                                  b"user text\r.\nMAIL FROM:<ceo@example.com>\n"])
def test_no_cr_dot_sequence_reaches_the_relay(body, tmp_path):
    """SMTP smuggling: a relay that takes a lone CR for a line end would see
    "CR . CR LF" as the end of the data, and the rest as commands sent in
    the user's session.  No dot may follow a lone CR on the way out."""
    (tmp_path / "none.conf").write_text('queue_dir = "%s/q"\n' % tmp_path)
    out = body_of(body, True, tmp_path)
    assert b"\r." not in out.replace(b"\r\n.", b""), out
    assert b"MAIL FROM:<ceo@example.com>" in out       # the text itself is kept
