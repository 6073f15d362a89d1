"""Only the mail system reads the secret (issue 15 item 4, SPEC 11): as
www-data, nobody and an ordinary user, no file or command output holding the
relay's password is readable.

An installed-style system queue: the system file (shown as
SYSCONFDIR/mailout.conf through a mount namespace) is root's, mode 0600, and
holds the password, or names it with a passwordeval reading a root-only 0600
secret file (the system file then 0600 or readable by all).  Each user sends
a message with `-v` (it goes to the system queue); then each user tries to
read everything: the system file (at both its paths), the secret file, the
spool's directories and files (maildrop/, q/, tmp/, ...), root's log file,
and the output of `--show-config` and `-bp`.  They try once with the message
only dropped and once after root's run deferred it (q/ and the log hold it).
Root's last run delivers with the password: the relay sees it, so the secret
the test looks for was the real one.  Needs root (users, set-group-id).
"""

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from drop_fixtures import drop, drop_group, spool  # noqa: F401
from mailout_run import EX_OK, full_message, relay_config, system_config_files
from system_fixtures import build_mailout, run_as

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, set-group-id)")

ORDINARY = "mo-sc-user"
USERS = ["www-data", "nobody", ORDINARY]
SECRET = "pw-Secr3t-of-the-system-relay"

# Run as the user: everything in argv[1:] it can read (directories walked),
# and what could not be opened, on stdout.
READER = r"""
import os, sys
def take(p):
    try:
        if os.path.isdir(p) and not os.path.islink(p):
            names = os.listdir(p)
            print("dir", p, names)
            for n in names:
                take(os.path.join(p, n))
        else:
            with open(p, "rb") as f:
                data = f.read()
            print("read", p, len(data))
            sys.stdout.write(data.decode("latin-1") + "\n")
    except OSError as e:
        print("refused", p, e.strerror)
for a in sys.argv[1:]:
    take(a)
"""


@pytest.fixture(scope="module")
def ordinary():
    made = False
    home = Path(tempfile.mkdtemp(prefix="mo-sc-home-"))
    try:
        pwd.getpwnam(ORDINARY)
    except KeyError:
        subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/usr/sbin/nologin", ORDINARY],
                       check=True)
        made = True
    pw = pwd.getpwnam(ORDINARY)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o700)
    yield
    if made:
        subprocess.run(["userdel", ORDINARY], check=False)
    shutil.rmtree(home, ignore_errors=True)


def read_as(mailout, user, sysf, paths):
    r = run_as(mailout, user, Path("/usr/bin/python3"), ["-c", READER, *map(str, paths)],
               system_file=sysf)
    assert r.rc == 0, r
    return r.stdout


def everything(spool, sysf, secret):
    """Every path a user might try: the system file at both its paths, the
    secret, the whole spool tree (root lists it: what users cannot list
    they may still guess)."""
    paths = [sysf, system_config_files()[0], secret]
    for top, dirs, files in os.walk(spool):
        paths += [Path(top) / n for n in dirs + files]
    return paths


@pytest.mark.parametrize("how", ["password", "passwordeval", "passwordeval-readable-file"])
def test_no_user_reads_the_relay_password(mailout, smtpd, drop, spool, ordinary, how):
    binary = build_mailout(spool, helper=drop.bin)
    srv = smtpd("plain", auth=True, user="relayuser", password=SECRET,
                rcpt="451 4.3.0 later")
    secret = spool / "relay-secret"
    secret.write_text(SECRET + "\n")
    os.chmod(secret, 0o600)
    log = spool / "system.log"
    g = {"queue": "onfail", "queue_dir": str(drop.root), "logfile": str(log)}
    if how == "password":
        text = relay_config(srv, account="system", globals_=g)
    else:
        text = relay_config(srv, account="system", globals_=g, password=None,
                            passwordeval="cat %s" % secret)
    sysf = spool / "system.conf"
    sysf.write_text(text)
    os.chmod(sysf, 0o644 if how == "passwordeval-readable-file" else 0o600)

    # The reader works: what a user may read, it reads.
    control = spool / "control"
    control.write_text(SECRET)
    os.chmod(control, 0o644)
    assert SECRET in read_as(mailout, "nobody", sysf, [control])
    control.unlink()

    seen = {}
    for user in USERS:
        r = run_as(mailout, user, binary,
                   ["-v", "-t"], full_message(to="alerts@example.org", subject="from " + user),
                   system_file=sysf)
        assert r.rc == EX_OK, r
        assert "queued in the system queue" in r.stderr, r
        seen[user] = r.stdout + r.stderr
        shown = run_as(mailout, user, binary, ["--show-config"], system_file=sysf)
        seen[user] += shown.stdout + shown.stderr
    assert len(drop.files()) == len(USERS)

    def try_everything():
        for user in USERS:
            seen[user] += read_as(mailout, user, sysf, everything(spool, sysf, secret))
            listing = run_as(mailout, user, binary, ["-bp"], system_file=sysf)
            seen[user] += listing.stdout + listing.stderr

    try_everything()
    # Root's run: the relay defers; the messages are now in q/, the log has lines.
    q = subprocess.run([mailout.bin, "-C", str(sysf), "-q"], capture_output=True,
                       env=mailout.env(), timeout=120)
    assert q.returncode == EX_OK, q
    assert drop.files() == [] and not srv.messages
    assert [n for n in os.listdir(drop.root / "q") if "." not in n], os.listdir(drop.root)
    assert log.exists()
    try_everything()

    for user in USERS:
        assert SECRET not in seen[user], (user, seen[user][-4000:])
    # They did try: the system file and the secret were refused to each.
    for user in USERS:
        assert "refused %s Permission denied" % secret in seen[user], user

    # Root's run delivers with the password: the secret above was the real one.
    srv.faults.rcpt = None
    q = subprocess.run([mailout.bin, "-C", str(sysf), "-q"], capture_output=True,
                       env=mailout.env(), timeout=120)
    assert q.returncode == EX_OK, q
    assert sorted(m.headers("Subject")[0] for m in srv.messages) == sorted(
        b"Subject: from " + u.encode() for u in USERS)
    assert {(m.auth.login, m.auth.password) for m in srv.messages} == {("relayuser", SECRET)}
