"""SPEC 7 local delivery, where Postfix's local(8) settles what SPEC leaves open.

- User names: the name as given is looked up first, then folded to lower
  case (local(8) folds the recipient before its lookup), also with a
  "+extension"; a name no user has, in any case, is still exit 67.  (That an
  account with capitals in its name wins over the folded name is checked in
  tests/unit/test-local.c, with a password database of its own.)
- The message's own Return-Path and Content-Length header fields are dropped
  from the copy written to an mbox or a Maildir (Postfix's
  message_drop_headers; local(8) writes its own Return-Path): folded
  continuation lines with them, any case, whitespace before the colon; body
  lines of that form stay, and everything else is kept byte for byte.  The
  relay still gets the message as it was (SPEC 3).
- A local recipient that is no user of this host stops the message before
  anything is delivered, as a refused recipient does (67), unless
  partial_delivery lets the others have it; -bs refuses it at RCPT.
- aliases(5) as Postfix reads it: an entry with no value is ignored (the
  name stays a local user), "name+ext" falls back to the alias "name",
  quoted names are unquoted; one copy per local mailbox however the
  recipients spell it (Postfix's duplicate filter).
- mbox: a FIFO or device is refused at once (O_NONBLOCK), a mailbox
  replaced while mailout waited for its lock is opened again; a mailbox
  the user cannot create gets an error that says what to do.

The tests run on the embedded default (no configuration) as the invoking
user, whose mbox is $MAIL (mailout_run) and whose Maildir is $HOME/Maildir.
"""

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
import fcntl
from pathlib import Path

import pytest

from mailout_run import EX_NOUSER, EX_OK, crlf, login_name, relay_config

EX_CANTCREAT = 73

ME = login_name()
SENDER = "sender@example.com"
NO_CONFIG = {"MAILOUT_CONFIG": None}


def deliver(mailout, rcpt, msg, *args):
    return mailout.run(["-f", SENDER, *args, rcpt], msg, env=NO_CONFIG)


def make_maildir(mailout):
    for sub in ("cur", "new", "tmp"):
        (mailout.home / "Maildir" / sub).mkdir(parents=True, exist_ok=True)
    return mailout.home / "Maildir" / "new"


def mbox_messages(mailout):
    """The messages of the mbox, each without its "From " line and the blank
    line that ends it."""
    box = mailout.mbox.read_bytes()
    assert box.startswith(b"From "), box[:200]
    parts = box[:-1].split(b"\nFrom ")     # no body line starts with "From " (quoted)
    return [p.split(b"\n", 1)[1] for p in parts]


# ---- user names in any case ----

@pytest.mark.parametrize("rcpt", [ME.upper(), ME.capitalize() + "@localhost",
                                  ME.upper() + "@LOCALHOST", ME.upper() + "+Ext",
                                  ME.capitalize() + "+Some.Ext@localhost"])
def test_user_name_in_other_case_reaches_the_same_mbox(mailout, rcpt):
    assert ME != ME.upper(), "the invoking user's name has no letter to fold"
    res = deliver(mailout, ME, b"Subject: lower\n\none\n")
    assert res.rc == EX_OK, res
    res = deliver(mailout, rcpt, b"Subject: folded\n\ntwo\n", "-v")
    assert res.rc == EX_OK, res
    assert "delivered to {} for {}".format(mailout.mbox, rcpt) in res.stderr, res
    msgs = mbox_messages(mailout)
    assert len(msgs) == 2 and b"Subject: folded\n" in msgs[1], msgs


def test_user_name_in_other_case_reaches_the_same_maildir(mailout):
    new = make_maildir(mailout)
    res = deliver(mailout, ME.upper() + "@localhost", b"Subject: md\n\nx\n")
    assert res.rc == EX_OK, res
    files = list(new.iterdir())
    assert len(files) == 1 and b"Subject: md\n" in files[0].read_bytes()
    assert not mailout.mbox.exists()


@pytest.mark.parametrize("rcpt", ["no-such-user-xyz", "NO-SUCH-USER-XYZ", "No-Such-User-Xyz",
                                  "NO-SUCH-USER-XYZ+ext", "No-Such-User-Xyz@localhost"])
def test_unknown_user_in_any_case_is_67(mailout, rcpt):
    res = deliver(mailout, rcpt, b"Subject: x\n\nx\n")
    assert res.rc == EX_NOUSER and '"{}"'.format(rcpt) in res.stderr, res
    assert not mailout.mbox.exists()


# ---- the message's own Return-Path and Content-Length ----

KEPT_HEAD = (b"From: a@example.com\n"
             b"To: b@example.com\n"
             b"Subject: drop\n"
             b"Date: Mon, 02 Jan 2023 03:04:05 +0000\n"
             b"Message-ID: <drop.1@example.com>\n")
BODY = (b"Return-Path: <body@x>\n"
        b"Content-Length: 3\n"
        b"\n"
        b"return-path: <body2@x>\n")

# (id, the message as given, the message as the mailbox must hold it, after
# mailout's own Return-Path line)
CASES = [
    ("plain",
     b"Return-Path: <old@x>\n" + KEPT_HEAD + b"Content-Length: 3\n\n" + BODY,
     KEPT_HEAD + b"\n" + BODY),
    ("folded-and-case",
     b"RETURN-PATH:\n <old@x>\n" + KEPT_HEAD[:20] + b"content-LENGTH:\n\t3\n   \n"
     + KEPT_HEAD[20:] + b"X-After: kept\n\n" + BODY,
     KEPT_HEAD[:20] + KEPT_HEAD[20:] + b"X-After: kept\n\n" + BODY),
    ("space-before-colon-and-several",
     KEPT_HEAD + b"Return-Path : <a@x>\nReturn-Path:<b@x>\nContent-Length\t: 3\n"
     b"X-Last: kept\n\n" + BODY,
     KEPT_HEAD + b"X-Last: kept\n\n" + BODY),
    ("similar-names-kept",
     KEPT_HEAD + b"X-Return-Path: <k@x>\nReturn-Path-X: k\nContent-Length2: 3\n"
     b"Content-Lengt: 3\nReturn-Path: <old@x>\n\n" + BODY,
     KEPT_HEAD + b"X-Return-Path: <k@x>\nReturn-Path-X: k\nContent-Length2: 3\n"
     b"Content-Lengt: 3\n\n" + BODY),
    ("last-header",
     KEPT_HEAD + b"Content-Length: 3\n folded\n\n" + BODY,
     KEPT_HEAD + b"\n" + BODY),
]


def case_ids():
    return [c[0] for c in CASES]


@pytest.mark.parametrize("given,want", [c[1:] for c in CASES], ids=case_ids())
def test_mbox_drops_own_return_path_and_content_length(mailout, given, want):
    res = deliver(mailout, ME, given)
    assert res.rc == EX_OK, res
    [got] = mbox_messages(mailout)
    assert got == b"Return-Path: <" + SENDER.encode() + b">\n" + want, got


@pytest.mark.parametrize("given,want", [c[1:] for c in CASES], ids=case_ids())
def test_maildir_drops_own_return_path_and_content_length(mailout, given, want):
    new = make_maildir(mailout)
    res = deliver(mailout, ME, given)
    assert res.rc == EX_OK, res
    [f] = list(new.iterdir())
    assert f.read_bytes() == b"Return-Path: <" + SENDER.encode() + b">\n" + want


def test_dropping_leaves_one_return_path_the_envelope_sender(mailout):
    res = deliver(mailout, ME, CASES[1][1])
    assert res.rc == EX_OK, res
    [got] = mbox_messages(mailout)
    head = got.split(b"\n\n", 1)[0].lower()
    assert head.count(b"return-path") == 1 and b"content-length" not in head, got
    assert head.startswith(b"return-path: <sender@example.com>\n"), got


def test_null_sender_return_path(mailout):
    res = mailout.run(["-f", "<>", ME], CASES[0][1], env=NO_CONFIG)
    assert res.rc == EX_OK, res
    [got] = mbox_messages(mailout)
    assert got == b"Return-Path: <>\n" + CASES[0][2], got


def test_mbox_from_quoting_still_applies_to_kept_lines(mailout):
    """A "From :" header (obsolete syntax: space before the colon) is a header
    field that starts with "From "; mbox quotes it as it always did.  (Not
    first: a first line starting with "From " is an mbox line, dropped.)"""
    given = (b"Subject: q\nReturn-Path: <old@x>\nFrom : a@example.com\n"
             b"Date: Mon, 02 Jan 2023 03:04:05 +0000\nMessage-ID: <q@x>\n\nFrom me\n")
    res = deliver(mailout, ME, given)
    assert res.rc == EX_OK, res
    [got] = mbox_messages(mailout)
    assert got.startswith(b"Return-Path: <sender@example.com>\nSubject: q\n"
                          b">From : a@example.com\nDate: "), got
    assert got.count(b"Return-Path") == 1 and got.endswith(b"\n\n>From me\n"), got


@pytest.mark.parametrize("shift", [-13, -12, -11, -6, -1, 0, 1, 2])
def test_field_name_across_a_read_block(mailout, shift):
    """local.c reads the spool in 64 KiB blocks: a dropped field whose name,
    colon or line end straddles a block boundary is still dropped whole, and
    a kept one kept whole."""
    pad = b"X-Pad: " + b"a" * (65536 + shift - len(b"X-Pad: ") - 2) + b"\n"
    given = pad + b"Return-Path: <old@x>\nX-Keep: k\nContent-Length: 3\n" + KEPT_HEAD + b"\nbody\n"
    new = make_maildir(mailout)
    res = deliver(mailout, ME, given)
    assert res.rc == EX_OK, res
    [f] = list(new.iterdir())
    assert f.read_bytes() == (b"Return-Path: <sender@example.com>\n" + pad + b"X-Keep: k\n"
                              + KEPT_HEAD + b"\nbody\n")


def without_return_path(msg):
    """msg with the Return-Path fields of its header section (and their
    continuation lines) removed, as RFC 5321 4.4 wants a submission."""
    head, body = msg.split(b"\n\n", 1)
    out, drop = [], False
    for line in head.split(b"\n"):
        if line[:1] not in (b" ", b"\t"):
            drop = line.split(b":", 1)[0].strip().lower() == b"return-path"
        if not drop:
            out.append(line)
    return b"\n".join(out) + b"\n\n" + body


@pytest.mark.parametrize("given", [c[1] for c in CASES], ids=case_ids())
def test_relay_gets_no_return_path_and_the_rest_unchanged(server, send, given):
    """SPEC 3: Return-Path is the final delivery's to add (RFC 5321 4.4;
    Postfix's cleanup drops it), in any spelling and folded; Content-Length
    and lookalike names go to the relay as given (it has every header
    mailout would add, so it adds none)."""
    res = send(server, ["-f", SENDER, "rcpt@example.com"], given)
    assert res.rc == EX_OK, res
    assert len(server.messages) == 1
    m = server.messages[0]
    assert m.data == crlf(without_return_path(given))
    assert m.headers("Return-Path") == []
    assert b"Return-Path: <body@x>" in m.data        # the body is untouched


# ---- an unknown local user among other recipients ----

def test_unknown_local_user_stops_the_message_for_all(mailout):
    """partial_delivery is off by default: like a recipient the relay
    refuses, an unknown local user means nobody gets the message."""
    res = deliver(mailout, "no-such-user-xyz", b"Subject: x\n\nx\n", ME)
    assert res.rc == EX_NOUSER and '"no-such-user-xyz"' in res.stderr, res
    assert not mailout.mbox.exists()


@pytest.mark.parametrize("partial", ["off", "on"])
def test_unknown_local_user_with_a_relay(mailout, server, partial):
    """Off: nothing goes to the relay or to the local mailbox.  On: both
    get it, and the exit status still says a recipient was refused."""
    conf = mailout.write_config(relay_config(server, partial_delivery=partial))
    res = mailout.run(["-f", SENDER, ME, "no-such-user-xyz", "far@example.com"],
                      b"Subject: x\n\nx\n", config_file=conf)
    assert res.rc == EX_NOUSER and '"no-such-user-xyz"' in res.stderr, res
    if partial == "off":
        assert server.received_nothing() and not mailout.mbox.exists(), res
    else:
        assert [m.rcpt_tos for m in server.messages] == [["far@example.com"]], res
        assert len(mbox_messages(mailout)) == 1


def test_bs_refuses_an_unknown_local_user_at_rcpt(mailout, server):
    """-bs answers an unknown local user (after aliases) with 550 at RCPT,
    so the client knows; the message goes to the others."""
    conf = mailout.write_config(relay_config(server))
    aliases = mailout.tmp / "aliases"
    aliases.write_text("gone: no-such-user-xyz\nme: %s\n" % ME)
    text = conf.read_text()
    conf.write_text('aliases = "%s"\n' % aliases + text)
    dialogue = ("EHLO client.example\r\nMAIL FROM:<%s>\r\nRCPT TO:<no-such-user-xyz>\r\n"
                "RCPT TO:<No-Such-User-Xyz@localhost>\r\nRCPT TO:<gone>\r\nRCPT TO:<me>\r\n"
                "RCPT TO:<far@example.com>\r\nDATA\r\nSubject: x\r\n\r\nx\r\n.\r\n"
                "QUIT\r\n" % SENDER).encode()
    res = mailout.run(["-bs"], dialogue, config_file=conf)
    codes = [l[:3] for l in res.stdout.splitlines()]
    assert codes[-8:] == ["550", "550", "550", "250", "250", "354", "250", "221"], res
    assert 'unknown local user "no-such-user-xyz"' in res.stdout, res
    assert [m.rcpt_tos for m in server.messages] == [["far@example.com"]], res
    assert len(mbox_messages(mailout)) == 1


# ---- aliases ----

def alias_config(mailout, text):
    aliases = mailout.tmp / "aliases"
    aliases.write_text(text)
    return mailout.write_config('aliases = "%s"\nqueue_dir = "%s"\n'
                                % (aliases, mailout.tmp / "queue"))


@pytest.mark.parametrize("text", ["{me}:\n", "{me}:   \n#   admin@example.com\n",
                                  "{me}: ,\n", "{me}: (nobody)\n"])
def test_alias_with_no_value_is_ignored(mailout, text):
    """postalias skips "name:" with no value ("need name:value pair"): the
    name stays the local user; the message is never delivered to nobody."""
    conf = alias_config(mailout, text.format(me=ME))
    res = mailout.run(["-f", SENDER, ME], b"Subject: cron output\n\nimportant\n",
                      config_file=conf)
    assert res.rc == EX_OK, res
    [got] = mbox_messages(mailout)
    assert b"important" in got


def test_alias_with_no_value_and_no_such_user(mailout):
    conf = alias_config(mailout, "devnull:\n")
    res = mailout.run(["-f", SENDER, "--dry-run", "devnull"], b"Subject: t\n\nb\n",
                      config_file=conf)
    assert res.rc == EX_NOUSER and '"devnull"' in res.stderr, res


def test_alias_of_the_name_without_extension(mailout):
    """aliases(5), ADDRESS EXTENSION: name+foo is looked up as name+foo,
    then as name, before default:."""
    conf = alias_config(mailout, "boss: %s\ndefault: nobody-xyz@example.com\n" % ME)
    res = mailout.run(["-f", SENDER, "-v", "boss+cron"], b"Subject: ext\n\nb\n",
                      config_file=conf)
    assert res.rc == EX_OK, res
    assert len(mbox_messages(mailout)) == 1


def test_quoted_alias_names(mailout):
    conf = alias_config(mailout, 'q: "%s"\n"qname": %s\n' % (ME, ME))
    for rcpt in ("q", "qname", '"qname"'):
        res = mailout.run(["-f", SENDER, rcpt], b"Subject: q\n\nb\n", config_file=conf)
        assert res.rc == EX_OK, (rcpt, res)
    assert len(mbox_messages(mailout)) == 3


# ---- one copy per mailbox ----

def test_one_copy_per_local_mailbox(mailout):
    """Postfix de-duplicates recipients case-insensitively and local(8)
    delivers once per mailbox: every spelling of one user gets one copy."""
    host = os.uname().nodename.split(".")[0]
    rcpts = [ME, ME.upper(), ME.capitalize() + "+x", ME + "@localhost", ME + "@" + host]
    res = mailout.run(["-f", SENDER, *rcpts], b"Subject: dup\n\nhello\n", env=NO_CONFIG)
    assert res.rc == EX_OK, res
    assert len(mbox_messages(mailout)) == 1
    res = mailout.run(["-f", SENDER, "-t", ME], b"To: %s\nSubject: dup2\n\nx\n"
                      % ME.capitalize().encode(), env=NO_CONFIG)
    assert res.rc == EX_OK, res
    assert len(mbox_messages(mailout)) == 2


def test_one_copy_after_aliases(mailout):
    conf = alias_config(mailout, "a: %s\nb: %s\n" % (ME, ME.upper()))
    res = mailout.run(["-f", SENDER, "--dry-run", "a", "b", ME], b"Subject: d\n\nb\n",
                      config_file=conf)
    assert res.rc == EX_OK, res
    assert res.stdout.count("Envelope-To:") == 1, res


# ---- mbox: what the path names ----

def test_mbox_fifo_is_refused_at_once(mailout):
    """Postfix opens mailboxes with O_NONBLOCK: a FIFO does not hang the
    delivery (holding the dot-lock); it is no regular file (73)."""
    os.mkfifo(str(mailout.mbox))
    res = deliver(mailout, ME, b"Subject: fifo\n\nb\n", "--queue", "never")
    assert res.rc == EX_CANTCREAT and "not a regular file" in res.stderr, res
    assert not Path(str(mailout.mbox) + ".lock").exists()


def test_mbox_replaced_while_waiting_for_the_lock(mailout):
    """A mail reader that holds the fcntl lock (no dot-lock) and renames a
    new file over the mailbox: the message goes to the new file, not to the
    unlinked one (Postfix's mbox_open re-checks after locking)."""
    res = deliver(mailout, ME, b"Subject: pre\n\nb\n")
    assert res.rc == EX_OK, res
    box = str(mailout.mbox)
    f = open(box, "r+")
    fcntl.lockf(f, fcntl.LOCK_EX)
    out = {}
    t = threading.Thread(target=lambda: out.setdefault(
        "res", deliver(mailout, ME, b"Subject: during\n\nb\n")))
    t.start()
    time.sleep(1.5)
    shutil.copy2(box, box + ".new")
    os.rename(box + ".new", box)
    time.sleep(0.3)
    f.close()
    t.join(60)
    assert out["res"].rc == EX_OK, out["res"]
    msgs = mbox_messages(mailout)
    assert len(msgs) == 2 and b"Subject: during" in msgs[1], msgs


def test_mbox_the_user_cannot_create(mailout):
    """Debian's useradd makes no /var/mail/USER, and only group mail may
    create one there: the error says what to do (73)."""
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as nobody")
    with open(mailout.bin, "rb") as f:
        if f.read(2) == b"#!":
            pytest.skip("a wrapper script (valgrind) in a directory nobody cannot read")
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    home = Path(tempfile.mkdtemp(prefix="mailout-nobody-"))  # pytest's tree is root-only
    try:
        os.chmod(home, 0o777)
        spool = home / "spool"
        spool.mkdir(mode=0o755)               # root's: nobody cannot create files in it
        env = mailout.env({"HOME": str(home), "MAIL": str(spool / "nobody"),
                           "XDG_STATE_HOME": str(home / "state"), "TMPDIR": str(home),
                           "XDG_CONFIG_HOME": str(home / "config"),
                           "USER": "nobody", "LOGNAME": "nobody"})
        env.pop("MAILOUT_CONFIG", None)
        cmd = [mailout.bin, "-f", SENDER, "--queue", "never", "nobody"]
        p = subprocess.run(mailout.host_guard(env, cmd) + ["setpriv", "--reuid=nobody",
                           "--regid=%d" % nobody.pw_gid, "--clear-groups", *cmd],
                           input=b"Subject: self\n\nb\n",
                           capture_output=True, env=env, timeout=30, cwd=str(home))
        err = p.stderr.decode()
        assert p.returncode == EX_CANTCREAT, err
        assert "create ~/Maildir" in err and "have root create %s/nobody" % spool in err, err
    finally:
        shutil.rmtree(home)


def test_maildir_without_cur_gets_all_three(mailout):
    (mailout.home / "Maildir").mkdir()
    res = deliver(mailout, ME, b"Subject: md\n\nb\n")
    assert res.rc == EX_OK, res
    for sub in ("cur", "new", "tmp"):
        assert (mailout.home / "Maildir" / sub).is_dir(), sub
    assert len(list((mailout.home / "Maildir" / "new").iterdir())) == 1


# ---- a full disk ----

@pytest.fixture
def small_fs(tmp_path):
    """A 64 KiB tmpfs (needs root and mount); skipped where it cannot be had."""
    d = tmp_path / "small"
    d.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(d)],
                       capture_output=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a small tmpfs: %s" % p.stderr.decode().strip())
    yield d
    subprocess.run(["umount", str(d)])


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_full_disk_is_a_temporary_failure(mailout, small_fs, kind):
    """Postfix's local(8) defers on a full disk: it passes.  It was 74."""
    big = b"Subject: big\n\n" + b"x" * 200_000 + b"\n"
    env = dict(NO_CONFIG)
    if kind == "mbox":
        env["MAIL"] = str(small_fs / "mbox")
    else:
        for sub in ("cur", "new", "tmp"):
            (small_fs / "Maildir" / sub).mkdir(parents=True)
        env["HOME"] = str(small_fs)
    res = mailout.run(["--queue", "never", "-f", SENDER, ME], big, env=env)
    assert res.rc == 75 and "No space left" in res.stderr, res
    if kind == "mbox":
        assert (small_fs / "mbox").stat().st_size == 0     # truncated back


# ---- postmaster (RFC 5321 4.5.1) ----

POSTMASTERS = ["postmaster", "PostMaster", "postmaster@localhost", "POSTMASTER@LocalHost"]


def relay_alias_config(mailout, server, aliases_text):
    aliases = mailout.tmp / "aliases"
    aliases.write_text(aliases_text)
    return mailout.write_config('aliases = "%s"\n' % aliases + relay_config(server))


@pytest.mark.parametrize("how", ["argument", "-t"])
@pytest.mark.parametrize("rcpt", POSTMASTERS)
def test_postmaster_without_alias_or_user_is_root_and_roots_alias(mailout, server, rcpt, how):
    """postmaster is always deliverable, in any case, bare or at this host:
    with no alias and no user of that name it is root, and root's alias
    applies, from the command line as from To: with -t (as -bs does)."""
    conf = relay_alias_config(mailout, server, "root: admin@example.com\n")
    msg = b"To: %s\nSubject: pm\n\nx\n" % rcpt.encode()
    args = ["-f", SENDER] + (["-t"] if how == "-t" else [rcpt])
    res = mailout.run(args, msg, config_file=conf)
    assert res.rc == EX_OK, res
    assert [m.rcpt_tos for m in server.messages] == [["admin@example.com"]], res


@pytest.mark.parametrize("rcpt", POSTMASTERS[:2] + POSTMASTERS[3:])
def test_postmaster_alias_comes_first(mailout, server, rcpt):
    conf = relay_alias_config(mailout, server, "root: admin@example.com\n"
                                               "postmaster: pm@example.com\n")
    res = mailout.run(["-f", SENDER, rcpt], b"Subject: pm\n\nx\n", config_file=conf)
    assert res.rc == EX_OK, res
    assert [m.rcpt_tos for m in server.messages] == [["pm@example.com"]], res


@pytest.mark.parametrize("how", ["argument", "-t"])
@pytest.mark.parametrize("rcpt", POSTMASTERS)
def test_postmaster_without_aliases_reaches_roots_mailbox(mailout, rcpt, how):
    """No aliases file at all: root's mailbox (the test's $MAIL when it
    runs as root)."""
    if ME != "root":
        pytest.skip("root's mailbox is the test's own only when it runs as root")
    args = ["-f", SENDER] + (["-t"] if how == "-t" else [rcpt])
    res = mailout.run(args, b"To: %s\nSubject: pm\n\nx\n" % rcpt.encode(), env=NO_CONFIG)
    assert res.rc == EX_OK, res
    assert len(mbox_messages(mailout)) == 1


def test_postmaster_at_another_domain_is_no_local_name(mailout, server):
    conf = relay_alias_config(mailout, server, "root: admin@example.com\n")
    res = mailout.run(["-f", SENDER, "postmaster@example.org"], b"Subject: pm\n\nx\n",
                      config_file=conf)
    assert res.rc == EX_OK, res
    assert [m.rcpt_tos for m in server.messages] == [["postmaster@example.org"]], res
