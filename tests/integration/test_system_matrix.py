"""Nothing lost, for every user (issue 15 item 5, SPEC 11): users x relay
states x callers, ending after root's queue run on the test's system queue
with every message delivered exactly once and every call returning 0.

Users: nobody, www-data (homes that do not exist or are not theirs), an
ordinary user with a home of their own, and a user whose home does not
exist (both created for the module and removed).  Relay "up": the system
file is root's, mode 0600, as installed (users cannot read it: all their
mail goes to the system queue).  Relay "down then up": a password-less
system file others may read (users try the relay themselves, and what it
defers goes to the system queue); root's first run finds it down, the
second delivers.  Callers: `sendmail -t`, cron's
`-FCronDaemon -i -B8BITMIME -oem USER` to the job's owner (run with
HOME=/root, as cron started from a root shell has it), `mail -s`, and PHP's
mail() (php-cli with sendmail_path naming the test mailout, `-t -i`).
Root sends too, with every caller: its system file names the system queue
as its queue_dir (root sends itself, or queues there when the relay is down).
/var/mail is a private root:mail 2775 directory for the users' runs and
root's (mount namespaces), so that users cannot create their mbox there.
"""

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from drop_fixtures import drop, drop_group, spool  # noqa: F401
from mailout_run import MAILOUT_BIN, EX_OK, full_message, relay_config
from system_fixtures import build_mailout, run_as, user_env, with_var_mail

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, set-group-id)")

ORDINARY, NO_HOME = "mo-mx-user", "mo-mx-nohome"


@pytest.fixture(scope="module")
def users():
    made = []
    home = Path(tempfile.mkdtemp(prefix="mo-mx-home-"))
    for name, h in ((ORDINARY, str(home)), (NO_HOME, "/nonexistent/mo-mx-nohome")):
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "-M", "-d", h, "-s", "/usr/sbin/nologin", name],
                           check=True)
            made.append(name)
    pw = pwd.getpwnam(ORDINARY)
    os.chown(home, pw.pw_uid, pw.pw_gid)
    os.chmod(home, 0o700)
    yield
    for name in made:
        subprocess.run(["userdel", name], check=False)
    shutil.rmtree(home, ignore_errors=True)


def var_mail(spool):
    box = spool / "var-mail"
    box.mkdir()
    mail = grp.getgrnam("mail").gr_gid if "mail" in [g.gr_name for g in grp.getgrall()] else 0
    os.chown(box, 0, mail)
    os.chmod(box, 0o2775)
    return box


def root_run(mailout, srv, drop, box):
    conf = mailout.write_config(relay_config(srv, account="system", globals_={
        "queue": "onfail", "queue_dir": str(drop.root)}))
    return subprocess.run(with_var_mail(box, [MAILOUT_BIN, "-C", str(conf), "-q"]),
                          capture_output=True, env=mailout.env(), timeout=120)


@pytest.mark.parametrize("relay", ["up", "down-then-up"])
@pytest.mark.parametrize("user", ["nobody", "www-data", ORDINARY, NO_HOME])
def test_every_message_delivered_once(mailout, smtpd, refused_port, drop, spool, users,
                                      user, relay):
    binary = build_mailout(spool, helper=drop.bin)
    box = var_mail(spool)
    server = smtpd("plain")

    class Down:
        host, port = "127.0.0.1", refused_port.port
    sysf = spool / "system.conf"
    sysf.write_text(relay_config(server if relay == "up" else Down, account="system",
                                 globals_={"queue": "onfail"}))
    os.chmod(sysf, 0o600 if relay == "up" else 0o644)

    calls = [
        run_as(mailout, user, binary, ["-t"],
               full_message(to="alerts@example.org", subject="sendmail-t " + user),
               system_file=sysf, var_mail=box),
        run_as(mailout, user, binary, ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", user],
               b"Subject: Cron <%s> job\n\noutput of the job\n" % user.encode(),
               system_file=sysf, var_mail=box, env=user_env(user, {"HOME": "/root"})),
        run_as(mailout, user, binary, ["-s", "mail-s " + user, "alerts@example.org"],
               b"body of mail -s\n", system_file=sysf, var_mail=box, argv0="mail"),
    ]
    for c in calls:
        assert c.rc == EX_OK, c
    if relay != "up":
        first = root_run(mailout, Down, drop, box)
        assert not server.messages, first
    q = root_run(mailout, server, drop, box)
    assert q.returncode == EX_OK, q
    subjects = sorted(m.headers("Subject")[0] for m in server.messages)
    assert subjects == [b"Subject: mail-s " + user.encode(),
                        b"Subject: sendmail-t " + user.encode()], subjects
    mbox = box / user
    assert mbox.read_bytes().count(b"output of the job") == 1
    st = mbox.stat()
    # The user's alone: mode 0600 (SPEC 7); the group is mail, as Debian's
    # /var/mail convention has it.
    assert st.st_uid == pwd.getpwnam(user).pw_uid and st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    assert drop.files() == []
    # Nothing left in the system queue.
    assert not [p for p in (drop.root / "q").iterdir() if "." not in p.name]


def php_mail(mailout, user, binary, spool, sysf, box, env=None):
    """PHP's mail() as user; returns (what mail() returned, mailout's exit)."""
    php = shutil.which("php")
    if not php:
        pytest.skip("needs php-cli")
    rcf = spool / ("php-rc-" + user)
    rcf.write_text("")
    pw = pwd.getpwnam(user)
    os.chown(rcf, pw.pw_uid, pw.pw_gid)
    # mail() takes a temporary failure (75) as success, and here sees the
    # echo's: mailout's own exit is recorded.  (Unquoted INI value: no ">"
    # before the ";".)
    path = "%s -t -i; echo $? > %s" % (binary, rcf)
    code = 'var_export(mail("alerts@example.org", "php-mail %s", "body of mail()\\n"));' % user
    r = run_as(mailout, user, Path(php), ["-n", "-d", "sendmail_path=" + path, "-r", code],
               system_file=sysf, var_mail=box, env=env)
    assert r.rc == 0, r
    return r.stdout, rcf.read_text().strip()


def system_file(spool, server, down, relay, queue_dir=None):
    sysf = spool / "system.conf"
    g = {"queue": "onfail"}
    if queue_dir:
        g["queue_dir"] = str(queue_dir)
    sysf.write_text(relay_config(server if relay == "up" else down, account="system",
                                 globals_=g))
    os.chmod(sysf, 0o600 if relay == "up" else 0o644)
    return sysf


def down_relay(refused_port):
    class Down:
        host, port = "127.0.0.1", refused_port.port
    return Down


def delivered_once_after_root_runs(mailout, server, down, drop, box, relay, subjects):
    if relay != "up":
        first = root_run(mailout, down, drop, box)
        assert first.returncode == EX_OK, first
    q = root_run(mailout, server, drop, box)
    assert q.returncode == EX_OK, q
    got = sorted(m.headers("Subject")[0] for m in server.messages)
    assert got == sorted(b"Subject: " + s.encode() for s in subjects), got
    assert drop.files() == []
    assert not [p for p in (drop.root / "q").iterdir() if "." not in p.name]


@pytest.mark.parametrize("relay", ["up", "down-then-up"])
@pytest.mark.parametrize("user", ["nobody", "www-data", ORDINARY, NO_HOME])
def test_php_mail_delivered_once(mailout, smtpd, refused_port, drop, spool, users, user,
                                 relay):
    binary = build_mailout(spool, helper=drop.bin)
    box = var_mail(spool)
    server, down = smtpd("plain"), down_relay(refused_port)
    sysf = system_file(spool, server, down, relay)
    returned, rc = php_mail(mailout, user, binary, spool, sysf, box)
    assert (returned, rc) == ("true", "0")
    if relay != "up":
        assert not server.messages
    delivered_once_after_root_runs(mailout, server, down, drop, box, relay,
                                   ["php-mail " + user])


@pytest.mark.parametrize("relay", ["up", "down-then-up"])
def test_root_sends_with_every_caller_delivered_once(mailout, smtpd, refused_port, drop, spool,
                                                     relay):
    binary = build_mailout(spool, helper=drop.bin)
    box = var_mail(spool)
    server, down = smtpd("plain"), down_relay(refused_port)
    sysf = system_file(spool, server, down, relay, queue_dir=drop.root)
    home = spool / "root-home"             # root's own, not the host's /root
    home.mkdir(mode=0o700)
    env = user_env("root", {"HOME": str(home)})
    calls = [
        run_as(mailout, "root", binary, ["-t"],
               full_message(to="alerts@example.org", subject="sendmail-t root"),
               system_file=sysf, var_mail=box, env=env),
        run_as(mailout, "root", binary, ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
               b"Subject: Cron <root> job\n\noutput of the job\n",
               system_file=sysf, var_mail=box, env=env),
        run_as(mailout, "root", binary, ["-s", "mail-s root", "alerts@example.org"],
               b"body of mail -s\n", system_file=sysf, var_mail=box, argv0="mail", env=env),
    ]
    for c in calls:
        assert c.rc == EX_OK, c
    assert php_mail(mailout, "root", binary, spool, sysf, box, env=env) == ("true", "0")
    if relay == "up":
        assert len(server.messages) == 3   # root sends itself
    else:
        assert not server.messages
    delivered_once_after_root_runs(mailout, server, down, drop, box, relay,
                                   ["mail-s root", "php-mail root", "sendmail-t root"])
    mbox = box / "root"
    assert mbox.read_bytes().count(b"output of the job") == 1
    st = mbox.stat()
    assert st.st_uid == 0 and st.st_mode & 0o777 == 0o600, oct(st.st_mode)
    assert not os.path.exists(home / ".local"), list(home.iterdir())
