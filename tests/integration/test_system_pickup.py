"""The system queue's pickup (SPEC 11): root's queue run moves what local users
dropped with mailout-drop into the queue and delivers it, treating everything
in the drop directory as hostile.

The queue directory of these tests is the spool directory that drop_fixtures
builds the helper for (its maildrop/ is the drop directory); the relay is an
aiosmtpd server on 127.0.0.1.  Hostile entries are placed by `nobody` holding
the drop group (what a subverted helper could do), or by root where only root
can make them (a device); a file changed while the run reads it is changed
by an LD_PRELOAD shim around read() (skipped under instrumented binaries).
Root is needed (skipped otherwise).
"""

import grp
import os
import pwd
import re
import shutil
import subprocess
import time

import pytest

from drop_fixtures import GROUP, drop, drop_group, spool  # noqa: F401
from mailout_run import EX_OK, instrumented, relay_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, groups, set-group-id)")


def prepared(rcpt="alerts@example.org", sender="www-data@host.example", body=b"body\r\n",
             extra=b""):
    return (b"mailout-envelope 1\nsender %s\nrcpt %s\n%s\nSubject: dropped\r\n\r\n%s"
            % (sender.encode(), rcpt.encode(), extra, body))


def queue_run(mailout, srv, qdir, *args):
    conf = relay_config(srv, globals_={"queue": "onfail", "queue_dir": str(qdir)})
    return mailout.run(["-q", *args], config=conf)


def as_user(user, *cmd, groups=()):
    pw = pwd.getpwnam(user)
    return subprocess.run(list(cmd), capture_output=True, user=pw.pw_uid, group=pw.pw_gid,
                          extra_groups=list(groups), timeout=30)


@pytest.mark.parametrize("user", ["nobody", "www-data"])
def test_a_dropped_message_is_delivered_with_the_kernels_uid(mailout, server, drop, user):
    res = drop.run(prepared(), user=user)
    assert res.returncode == EX_OK, res.stderr
    r = queue_run(mailout, server, drop.root, "-v")
    assert r.rc == EX_OK, r
    assert drop.files() == []
    (m,) = server.messages
    assert m.rcpt_tos == ["alerts@example.org"]
    assert m.mail_from == "www-data@host.example"
    uid = pwd.getpwnam(user).pw_uid
    first = m.data.split(b"\r\n\t")[:2]
    assert first[0] == b"Received: from localhost (uid %d, user %s)" % (uid, user.encode()), \
        m.data[:200]
    assert re.match(rb"by \S+ \(mailout\) with local;$", first[1]), m.data[:200]
    assert m.data.endswith(b"Subject: dropped\r\n\r\nbody\r\n")


def test_bare_line_feeds_in_a_dropped_message_become_crlf(mailout, server, drop):
    # A user who bypasses mailout and writes LF-only text with a lone dot:
    # the queue file must not carry it to the relay as an end of data.
    body = b"line\n.\nMAIL FROM:<x@evil.example>\nend\n"
    assert drop.run(prepared(body=body)).returncode == EX_OK
    assert queue_run(mailout, server, drop.root).rc == EX_OK
    (m,) = server.messages
    assert m.data.endswith(b"line\r\n.\r\nMAIL FROM:<x@evil.example>\r\nend\r\n")


def test_a_forged_uid_line_is_set_aside(mailout, server, drop):
    # nobody, holding the drop group, writes a file claiming uid 0.
    path = drop.dir / "Dforged"
    script = ("import os,sys\n"
              "fd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT|os.O_EXCL, 0o700)\n"
              "os.write(fd, sys.stdin.buffer.read())\n")
    pw = pwd.getpwnam("nobody")
    data = b"mailout-drop 1\nuid 0\ncreated 1\n" + prepared()
    subprocess.run(["/usr/bin/python3", "-c", script, str(path)], input=data, check=True,
                   user=pw.pw_uid, group=pw.pw_gid, extra_groups=[drop_group_gid()])
    assert drop.run(prepared(rcpt="good@example.org")).returncode == EX_OK
    r = queue_run(mailout, server, drop.root)
    assert [m.rcpt_tos for m in server.messages] == [["good@example.org"]]
    assert "does not name its owner" in r.stderr
    assert os.listdir(drop.root / "corrupt") == ["Dforged"]


def drop_group_gid():
    return grp.getgrnam(GROUP).gr_gid


def hostile(drop, kind, victim):
    """Place one hostile entry in the drop directory, as nobody with the drop
    group (or as root where only root can)."""
    name = str(drop.dir / ("D-" + kind))
    gid = drop_group_gid()
    if kind == "symlink":
        return as_user("nobody", "ln", "-s", str(victim), name, groups=[gid])
    if kind == "fifo":
        return as_user("nobody", "mkfifo", "-m", "0700", name, groups=[gid])
    if kind == "hardlink":
        # nobody links its own complete drop file under a second name.
        own = drop.run(prepared(rcpt="linked@example.org")).stdout.decode().strip()
        return as_user("nobody", "ln", str(drop.dir / own), name, groups=[gid])
    if kind == "device":
        os.mknod(name, 0o700 | 0o020000, os.makedev(1, 3))
        return None
    if kind == "oversized":
        with open(name, "wb") as f:
            f.truncate(2 * 1024 ** 3)          # sparse: larger than any drop
        os.chmod(name, 0o700)
        return None
    if kind == "malformed":
        body = b"mailout-drop 1\nuid 65534\ncreated 1\nmailout-envelope 1\npasswordeval id\n\n"
        script = ("import os,sys\nfd=os.open(sys.argv[1], os.O_WRONLY|os.O_CREAT, 0o700)\n"
                  "os.write(fd, sys.stdin.buffer.read())\n")
        pw = pwd.getpwnam("nobody")
        return subprocess.run(["/usr/bin/python3", "-c", script, name], input=body,
                              user=pw.pw_uid, group=pw.pw_gid, extra_groups=[gid], timeout=30)
    raise AssertionError(kind)


REASONS = {"symlink": "a symbolic link", "fifo": "not a regular file",
           "hardlink": "more than one link", "device": "not a regular file",
           "oversized": "larger than mailout-drop writes",
           "malformed": "an envelope line the system queue does not take"}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_hostile_entries_are_set_aside_and_the_others_delivered(mailout, server, drop, spool,
                                                                kind):
    victim = spool / "victim"
    victim.write_bytes(b"not mail\n")
    os.chmod(victim, 0o644)
    assert drop.run(prepared(rcpt="first@example.org"), user="www-data").returncode == EX_OK
    res = hostile(drop, kind, victim)
    assert res is None or res.returncode == 0, res.stderr
    assert drop.run(prepared(rcpt="last@example.org"), user="nobody").returncode == EX_OK
    t0 = time.monotonic()
    r = queue_run(mailout, server, drop.root)
    assert time.monotonic() - t0 < 20                 # a FIFO did not block the run
    got = sorted(rc for m in server.messages for rc in m.rcpt_tos)
    assert "first@example.org" in got and "last@example.org" in got, r
    assert "D-%s set aside in %s: %s" % (kind, drop.root / "corrupt", REASONS[kind]) in r.stderr, r
    assert victim.read_bytes() == b"not mail\n"        # nothing outside the spool touched
    aside = os.listdir(drop.root / "corrupt")
    assert "D-" + kind in aside, aside
    if kind == "hardlink":
        assert len(aside) == 2                          # both names of the inode
        assert "linked@example.org" not in got
    assert drop.files() == []


def test_an_unfinished_drop_file_waits_then_goes(mailout, server, drop):
    path = drop.dir / "Dembryo"
    path.write_bytes(b"mailout-drop 1\nuid 0\n")
    os.chmod(path, 0o600)
    assert queue_run(mailout, server, drop.root).rc == EX_OK
    assert drop.files() == ["Dembryo"]                 # still being written, perhaps
    old = time.time() - 2 * 86400
    os.utime(path, (old, old))
    r = queue_run(mailout, server, drop.root)
    assert drop.files() == []
    assert "never completed" in r.stderr
    assert not server.messages


# Changes the drop file named by SHIM_TARGET while the run reads it: on the
# second read() of a descriptor open on it, SHIM_MODE "grow" appends a line,
# "rewrite" overwrites its first bytes in place (same size, new mtime).
SHIM = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t
read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);
	static int seen_fd = -1, reads;
	const char *target = getenv("SHIM_TARGET"), *mode = getenv("SHIM_MODE");
	char link[64], path[4096];
	ssize_t k;

	if (!real)
		real = (ssize_t (*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	k = readlink(link, path, sizeof(path) - 1);
	if (target && mode && k > 0) {
		path[k] = '\0';
		if (strstr(path, target)) {
			if (fd != seen_fd)
				seen_fd = fd, reads = 0;
			if (++reads == 2) {
				int w = open(path, O_WRONLY | O_CLOEXEC | (*mode == 'g' ? O_APPEND : 0));
				if (w >= 0) {
					const char *s = *mode == 'g' ? "Bcc: added@example.org\n" : "X";
					(void)write(w, s, strlen(s));
					close(w);
				}
			}
		}
	}
	return real(fd, buf, n);
}
"""


@pytest.mark.parametrize("mode", ["grow", "rewrite"])
def test_a_file_changed_while_read_is_set_aside(mailout, server, drop, spool, mode):
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc or instrumented(mailout.bin):
        pytest.skip("needs a C compiler and an uninstrumented binary for the LD_PRELOAD shim")
    src = spool / "shim.c"
    src.write_text(SHIM)
    lib = spool / "shim.so"
    subprocess.run([cc, "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    res = drop.run(prepared(rcpt="changed@example.org"), user="www-data")
    assert res.returncode == EX_OK, res.stderr
    target = res.stdout.decode().strip()
    assert target in drop.files(), (target, drop.files())
    before = (drop.dir / target).read_bytes()
    assert drop.run(prepared(rcpt="other@example.org"), user="nobody").returncode == EX_OK
    conf = relay_config(server, globals_={"queue": "onfail", "queue_dir": str(drop.root)})
    r = mailout.run(["-q"], config=conf,
                    env={"LD_PRELOAD": str(lib), "SHIM_TARGET": target, "SHIM_MODE": mode})
    assert [m.rcpt_tos for m in server.messages] == [["other@example.org"]], r
    assert "%s set aside in %s: changed while it was read" % (
        target, drop.root / "corrupt") in r.stderr, r
    aside = drop.root / "corrupt" / target
    assert os.listdir(drop.root / "corrupt") == [target]
    now = aside.read_bytes()
    assert now != before and (len(now) > len(before)) == (mode == "grow")
    assert drop.files() == []
    # Nothing of it was queued.
    assert [n for n in os.listdir(drop.root / "q") if "." not in n] == []
    assert os.listdir(drop.root / "tmp") == []
