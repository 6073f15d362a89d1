"""Root's run of the system queue gives root up (SPEC 11): when the queue
directory belongs to the system user, root's `mailout -q` picks up dropped
files and delivers to local mailboxes as root, gets every secret as root
(passwordeval runs then), and holds the relay dialogue as the system user
only; what it leaves in the spool is the system user's.

The system user is a test user made for the module and removed after it
(MAILOUT_SYSTEM_USER names it to root's run, instead of the built-in name);
the relay is an aiosmtpd server on 127.0.0.1 that looks up, at each RCPT, the
uid owning the client's socket in /proc/net/tcp.  Root is needed.
"""

import os
import pwd
import subprocess

import pytest

from drop_fixtures import Drop, drop_group, spool  # noqa: F401
from mailout_run import EX_OK, relay_config

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, set-group-id)")

SYSUSER = "mo-ps%d" % os.getpid()
LOCALUSER = "mo-pl%d" % os.getpid()
SECRET = "s3cret-of-the-relay"


def _useradd(name, home):
    subprocess.run(["useradd", "--system", "--user-group", "--no-create-home",
                    "--home-dir", home, "--shell", "/usr/sbin/nologin", name], check=True)
    return pwd.getpwnam(name)


@pytest.fixture(scope="module")
def sysuser():
    pw = _useradd(SYSUSER, "/nonexistent")
    yield pw
    subprocess.run(["userdel", SYSUSER], check=False)


@pytest.fixture
def sysq(spool, drop_group, sysuser):
    """A spool as `make install` makes it, owned by the test's system user."""
    d = Drop(spool / "spool", drop_group)
    os.chown(d.root, sysuser.pw_uid, sysuser.pw_gid)
    os.chmod(d.root, 0o755)
    os.chown(d.dir, sysuser.pw_uid, drop_group)
    os.chmod(d.dir, 0o1770)
    return d


def client_uid(conn):
    """The uid owning the client's end of conn (its local port is the peer's)."""
    port = "%04X" % conn.peer[1]
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if fields[1].endswith(":" + port):
                return int(fields[7])
    return None


def prepared(*rcpts, sender="www-data@host.example"):
    return (b"mailout-envelope 1\nsender %s\n%s\nSubject: dropped\r\n\r\nbody\r\n"
            % (sender.encode(), b"".join(b"rcpt %s\n" % r.encode() for r in rcpts)))


def system_run(mailout, srv, qdir, **settings):
    g = {"queue": "onfail", "queue_dir": str(qdir), "logfile": str(mailout.tmp / "mail.log")}
    conf = relay_config(srv, globals_=g, **settings)
    return mailout.run(["-q", "-v"], config=conf, env={"MAILOUT_SYSTEM_USER": SYSUSER})


def owners(d):
    return {n: os.lstat(d / n).st_uid for n in os.listdir(d)}


def test_the_relay_dialogue_runs_as_the_system_user_with_the_secret_got_as_root(
        mailout, smtpd, sysq, sysuser):
    uids = []
    srv = smtpd("plain", auth=True, user="relayuser", password=SECRET,
                on_rcpt=lambda conn: uids.append(client_uid(conn)))
    evaluated = sysq.root.parent / "passwordeval-uid"
    assert sysq.run(prepared("alerts@example.org"), user="nobody").returncode == EX_OK
    r = system_run(mailout, srv, sysq.root, user="relayuser", password=None,
                   passwordeval="id -u > %s; echo %s" % (evaluated, SECRET))
    assert r.rc == EX_OK, r
    assert sysq.files() == []
    (m,) = srv.messages
    assert m.rcpt_tos == ["alerts@example.org"]
    assert (m.auth.login, m.auth.password) == ("relayuser", SECRET)
    assert b"(uid %d, user nobody)" % pwd.getpwnam("nobody").pw_uid in m.data
    assert uids == [sysuser.pw_uid]
    assert evaluated.read_text() == "0\n"       # root's, before the drop
    assert os.listdir(sysq.root / "q") == []
    # Root's log file (in a directory of root's alone) has the relay's line.
    log = (mailout.tmp / "mail.log").read_text()
    assert "recipients=alerts@example.org" in log and "smtpstatus=250" in log, log
    assert os.stat(mailout.tmp / "mail.log").st_uid == 0


def test_what_the_run_leaves_in_the_spool_is_the_system_users(mailout, smtpd, sysq, sysuser):
    uids = []
    srv = smtpd("plain", rcpt="451 4.3.0 later", on_rcpt=lambda c: uids.append(client_uid(c)))
    assert sysq.run(prepared("alerts@example.org"), user="nobody").returncode == EX_OK
    r = system_run(mailout, srv, sysq.root)
    assert r.rc == EX_OK, r                      # deferred: the run itself is fine
    assert uids == [sysuser.pw_uid]
    q = owners(sysq.root / "q")
    assert len(q) == 2 and any(n.endswith(".state") for n in q), q
    assert set(q.values()) == {sysuser.pw_uid}, q
    for sub in ("q", "tmp", "failed"):
        st = os.lstat(sysq.root / sub)
        assert (st.st_uid, st.st_mode & 0o777) == (sysuser.pw_uid, 0o700), sub
    # The next run (relay back) delivers it, still as the system user.
    srv.faults.rcpt = None
    r = system_run(mailout, srv, sysq.root)
    assert r.rc == EX_OK, r
    assert [m.rcpt_tos for m in srv.messages] == [["alerts@example.org"]]
    assert uids == [sysuser.pw_uid, sysuser.pw_uid]
    assert os.listdir(sysq.root / "q") == []


@pytest.fixture
def localuser(spool):
    home = spool / "home"
    pw = _useradd(LOCALUSER, str(home))
    for sub in ("", "Maildir", "Maildir/cur", "Maildir/new", "Maildir/tmp"):
        (home / sub).mkdir(mode=0o700, exist_ok=True)
        os.chown(home / sub, pw.pw_uid, pw.pw_gid)
    yield pw
    subprocess.run(["userdel", LOCALUSER], check=False)


def test_local_recipients_get_it_as_root_and_the_relay_after_the_drop(
        mailout, smtpd, sysq, sysuser, localuser):
    uids = []
    srv = smtpd("plain", on_rcpt=lambda conn: uids.append(client_uid(conn)))
    msg = prepared(LOCALUSER, "root", "alerts@example.org")
    assert sysq.run(msg, user="nobody").returncode == EX_OK
    r = system_run(mailout, srv, sysq.root)
    assert r.rc == EX_OK, r
    (m,) = srv.messages
    assert m.rcpt_tos == ["alerts@example.org"]  # the relay has only its own
    assert uids == [sysuser.pw_uid]
    (name,) = os.listdir(sysq.root.parent / "home/Maildir/new")
    st = os.stat(sysq.root.parent / "home/Maildir/new" / name)
    assert (st.st_uid, st.st_gid) == (localuser.pw_uid, localuser.pw_gid)
    st = os.stat(mailout.mbox)                   # root's ($MAIL)
    assert st.st_uid == 0 and b"Subject: dropped" in mailout.mbox.read_bytes()
    assert os.listdir(sysq.root / "q") == []


def test_a_root_owned_queue_is_run_as_before(mailout, smtpd, spool, drop_group):
    """No system user owns it: no drop of rights (test_system_pickup's case)."""
    uids = []
    srv = smtpd("plain", on_rcpt=lambda conn: uids.append(client_uid(conn)))
    d = Drop(spool / "spool", drop_group)
    assert d.run(prepared("alerts@example.org"), user="nobody").returncode == EX_OK
    r = system_run(mailout, srv, d.root)
    assert r.rc == EX_OK, r
    assert uids == [0] and len(srv.messages) == 1


def test_hostile_entries_are_set_aside_by_the_system_user(mailout, smtpd, sysq, sysuser):
    srv = smtpd("plain")
    nobody = pwd.getpwnam("nobody")
    link = sysq.dir / "evil"
    os.symlink("/etc/shadow", link)
    os.lchown(link, nobody.pw_uid, nobody.pw_gid)
    assert sysq.run(prepared("alerts@example.org"), user="nobody").returncode == EX_OK
    r = system_run(mailout, srv, sysq.root)
    assert r.rc == EX_OK, r
    assert len(srv.messages) == 1 and sysq.files() == []
    corrupt = sysq.root / "corrupt"
    assert os.lstat(corrupt).st_uid == sysuser.pw_uid
    assert os.path.islink(corrupt / "evil")
    assert b"set aside" in r.err


def test_relay_settings_forged_into_a_system_queue_file_are_not_obeyed(
        mailout, smtpd, sysq, sysuser):
    """Whoever is the system user writes q/: a passwordeval there must not
    run as root, nor the account's secret go where such a file says."""
    srv = smtpd("plain", auth=True, user="relayuser", password=SECRET)
    ran = sysq.root.parent / "forged-ran"
    sysq.run(prepared("alerts@example.org"), user="nobody")     # makes q/ and tmp/
    r = system_run(mailout, srv, sysq.root, user="relayuser", password=SECRET)
    assert r.rc == EX_OK, r
    forged = sysq.root / "q" / "20240101T000000000000-forged"
    forged.write_bytes(b"mailout-envelope 1\naccount test\nport 1\ntls off\n"
                       b"passwordeval touch %s; echo x\nsender a@example.org\n"
                       b"rcpt alerts@example.org\ncreated 1704067200\n\n"
                       b"Subject: forged\r\n\r\nbody\r\n" % str(ran).encode())
    os.chown(forged, sysuser.pw_uid, sysuser.pw_gid)
    os.chmod(forged, 0o600)
    r = system_run(mailout, srv, sysq.root, user="relayuser", password=SECRET)
    assert r.rc == EX_OK, r
    assert not ran.exists()
    assert b"relay settings in a system queue file ignored" in r.err
    assert [m.auth.password for m in srv.messages] == [SECRET, SECRET]
    assert b"Subject: forged" in srv.messages[1].data


def test_root_lists_and_manages_the_system_queue_as_the_system_user(mailout, smtpd, sysq,
                                                                      sysuser):
    """Root's mailq, --show and --delete act on the system queue (SPEC 11),
    whose files are the system user's: they run as that user."""
    srv = smtpd("plain", rcpt="451 4.3.0 later")
    assert sysq.run(prepared("alerts@example.org"), user="nobody").returncode == EX_OK
    assert system_run(mailout, srv, sysq.root).rc == EX_OK
    (qid,) = [n for n in os.listdir(sysq.root / "q") if "." not in n]
    conf = mailout.write_config(relay_config(srv, globals_={"queue_dir": str(sysq.root)}))
    env = {"MAILOUT_SYSTEM_USER": SYSUSER}
    listing = mailout.run(["-bp"], config_file=conf, env=env)
    assert listing.rc == EX_OK, listing
    assert qid in listing.stdout and "alerts@example.org" in listing.stdout
    assert "in 1 Request." in listing.stdout
    shown = mailout.run(["--show", qid], config_file=conf, env=env)
    assert shown.rc == EX_OK and "Subject: dropped" in shown.stdout, shown
    deleted = mailout.run(["--delete", qid], config_file=conf, env=env)
    assert deleted.rc == EX_OK, deleted
    assert [n for n in os.listdir(sysq.root / "q") if not n.startswith(".")] == []
