"""mailout-drop, the set-group-id helper of the system queue (SPEC 11), as an
attacker would use it: run as `nobody` or `www-data` (drop_fixtures.py builds
and installs it for each test).  Root is needed (skipped otherwise).
"""

import os
import pwd
import shutil
import signal
import stat
import subprocess
import time

import pytest

from drop_fixtures import ENVELOPE, MESSAGE, Drop, drop, drop_group, spool  # noqa: F401
from mailout_run import EX_CONFIG, EX_DATAERR, EX_OK, EX_USAGE

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, groups, set-group-id)")

@pytest.mark.parametrize("user", ["nobody", "www-data"])
def test_a_user_drops_a_message_recorded_with_the_kernels_uid(drop, user):
    res = drop.run(user=user)
    assert res.returncode == EX_OK, res.stderr
    name = res.stdout.decode().strip()
    assert drop.files() == [name]
    st = os.lstat(drop.dir / name)
    uid = pwd.getpwnam(user).pw_uid
    assert st.st_uid == uid                       # the owner is the submitter
    assert stat.S_IMODE(st.st_mode) == 0o700      # complete: owner's x bit
    assert st.st_nlink == 1
    body = (drop.dir / name).read_bytes()
    head = b"mailout-drop 1\nuid %d\ncreated " % uid
    assert body.startswith(head)
    assert body.endswith(ENVELOPE + MESSAGE)


def test_the_drop_directory_is_closed_to_users_without_the_helper(drop):
    drop.run()
    pw = pwd.getpwnam("nobody")
    probe = ("import os,sys\n"
             "for f in (lambda: os.listdir(sys.argv[1]),"
             " lambda: open(sys.argv[1] + '/forged', 'w')):\n"
             "    try: f(); print('allowed')\n"
             "    except PermissionError: print('denied')\n")
    res = subprocess.run(["/usr/bin/python3", "-c", probe, str(drop.dir)], capture_output=True,
                         user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], timeout=30)
    assert res.stdout.decode().split() == ["denied", "denied"]


@pytest.mark.parametrize("line", [b"passwordeval cat /etc/shadow", b"host evil.example",
                                  b"port 25", b"tls off", b"user root", b"uid 0",
                                  b"rcpt a@b\x01", b"sender a@b\r", b"rcpt caf\xc3\xa9@x.example"])
def test_envelope_lines_the_system_does_not_take_are_refused(drop, line):
    data = b"mailout-envelope 1\nsender a@b.example\nrcpt c@d.example\n" + line + b"\n\nx"
    res = drop.run(data)
    assert res.returncode == EX_DATAERR, res.stderr
    assert res.stderr.startswith(b"mailout-drop: malformed input: ")
    assert drop.files() == []                     # the embryonic file is gone


@pytest.mark.parametrize("data", [b"", b"Subject: no envelope\n\nx",
                                  b"mailout-envelope 1\nsender a@b\n",          # no end, no rcpt
                                  b"mailout-envelope 1\nsender a@b\n\nx",       # no rcpt
                                  b"mailout-envelope 1\nrcpt a@b\n\nx",         # no sender
                                  b"mailout-envelope 1\nsender a\nsender b\nrcpt c\n\n",
                                  b"mailout-envelope 1\nsender a@b\nrcpt " + b"x" * 5000 + b"\n\n"])
def test_malformed_input_leaves_nothing(drop, data):
    res = drop.run(data)
    assert res.returncode == EX_DATAERR, res.stderr
    assert drop.files() == []


def test_input_over_the_size_limit_is_refused(spool, drop_group):
    d = Drop(spool / "spool", drop_group, size_max=4096)
    assert d.run(ENVELOPE + b"x" * 3000).returncode == EX_OK
    res = d.run(ENVELOPE + b"x" * 5000)
    assert res.returncode == EX_DATAERR
    assert b"larger than" in res.stderr
    assert len(d.files()) == 1


def test_arguments_are_refused_and_the_environment_is_not_read(drop, spool):
    res = drop.run(args=["/tmp/elsewhere"])
    assert res.returncode == EX_USAGE
    assert drop.files() == []
    # Whatever the caller sets, the file lands in the built-in directory,
    # readable as before; a preloaded library is not loaded (secure exec).
    marker = spool / "preloaded"
    res = drop.run(env={"PATH": "/nonexistent", "TMPDIR": str(spool), "HOME": str(spool),
                        "LD_PRELOAD": "/nonexistent/lib.so", "MAILOUT_CONFIG": str(marker)})
    assert res.returncode == EX_OK, res.stderr
    assert len(drop.files()) == 1


def test_closed_standard_descriptors_do_not_mix_with_the_file(drop):
    pw = pwd.getpwnam("nobody")
    # stdout and stderr closed: the drop file must not become fd 1 or 2.
    res = subprocess.run(["/bin/sh", "-c", 'exec "$0" >&- 2>&-', str(drop.bin)],
                         input=ENVELOPE + MESSAGE, capture_output=True, user=pw.pw_uid,
                         group=pw.pw_gid, extra_groups=[], timeout=30)
    assert res.returncode == EX_OK
    (name,) = drop.files()
    assert (drop.dir / name).read_bytes().endswith(ENVELOPE + MESSAGE)


@pytest.mark.parametrize("tamper", ["symlink", "world-writable", "not-sticky", "other-group",
                                    "missing"])
def test_a_drop_directory_not_as_installed_is_refused(drop, spool, tamper):
    if tamper == "symlink":
        elsewhere = spool / "elsewhere"
        elsewhere.mkdir(mode=0o777)
        os.chmod(elsewhere, 0o777)
        shutil.rmtree(drop.dir)
        os.symlink(elsewhere, drop.dir)
    elif tamper == "world-writable":
        os.chmod(drop.dir, 0o1773)
    elif tamper == "not-sticky":
        os.chmod(drop.dir, 0o770)
    elif tamper == "other-group":
        os.chown(drop.dir, 0, 0)
        os.chmod(drop.dir, 0o1777 & ~0o007)
    else:
        shutil.rmtree(drop.dir)
    res = drop.run()
    assert res.returncode == EX_CONFIG, res.stderr
    assert res.stderr.startswith(b"mailout-drop: ")
    if tamper == "symlink":
        assert os.listdir(spool / "elsewhere") == []


def test_a_killed_helper_leaves_no_file(drop):
    pw = pwd.getpwnam("nobody")
    p = subprocess.Popen([str(drop.bin)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, user=pw.pw_uid, group=pw.pw_gid,
                         extra_groups=[], env={})
    p.stdin.write(ENVELOPE[:30])
    p.stdin.flush()
    for _ in range(100):                 # the embryonic file exists while it reads
        if drop.files():
            break
        time.sleep(0.02)
    assert len(drop.files()) == 1
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=10)
    p.stdin.close()
    p.stdout.close()
    p.stderr.close()
    assert drop.files() == []


def test_a_user_cannot_overwrite_or_remove_another_users_drop(drop):
    first = drop.run(user="www-data").stdout.decode().strip()
    before = (drop.dir / first).read_bytes()
    pw = pwd.getpwnam("nobody")
    # nobody has the helper only: it writes new files, never an existing one,
    # and cannot reach the directory otherwise.
    for _ in range(3):
        assert drop.run(user="nobody").returncode == EX_OK
    res = subprocess.run(["/bin/rm", "-f", str(drop.dir / first)], capture_output=True,
                         user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], timeout=30)
    assert b"Permission denied" in res.stderr
    assert (drop.dir / first).read_bytes() == before
    assert len(drop.files()) == 4
