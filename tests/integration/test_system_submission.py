"""Non-root submission to the system queue (SPEC 11), the HOME rule and the
mail domain (SPEC 2), the submitter's uid in the log line.

Each test builds mailout-drop for its own spool directory (drop_fixtures)
and links a mailout whose helper is that one (system_fixtures); root's
queue run is the build under test with a -C configuration whose queue_dir
is that spool.  Users run through the search path with a test file as
SYSCONFDIR/mailout.conf.  Needs root (users, set-group-id, mount namespace).
"""

import os
import pwd
import re
import subprocess
import tempfile
from pathlib import Path

import pytest

from drop_fixtures import drop, drop_group, spool  # noqa: F401
from mailout_run import EX_CONFIG, EX_OK, EX_TEMPFAIL, full_message, relay_config
from system_fixtures import build_mailout, run_as, user_env

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (users, set-group-id)")

MSG = full_message(to="alerts@example.org", frm="app@example.org", subject="from a user")


@pytest.fixture
def sysbin(drop, spool):
    """mailout linked with the test's drop helper."""
    return build_mailout(spool, helper=drop.bin)


def system_file(spool, srv, mode=0o600, **kw):
    """A system file for srv, root's, with the test spool as queue_dir."""
    f = spool / "system.conf"
    f.write_text(relay_config(srv, account="system",
                              globals_={"queue": "onfail", "queue_dir": str(spool / "spool")},
                              **kw))
    os.chmod(f, mode)
    return f


def root_run(mailout, srv, drop, *args):
    """root's queue run on the test's system queue, logging to a file."""
    log = drop.root.parent / "system.log"
    conf = relay_config(srv, account="system", globals_={
        "queue": "onfail", "queue_dir": str(drop.root), "logfile": str(log)})
    return mailout.run(["-q", *args], config=conf), log


@pytest.mark.parametrize("user", ["nobody", "www-data"])
def test_unreadable_system_file_goes_to_the_system_queue(mailout, server, drop, spool, sysbin,
                                                        user):
    sysf = system_file(spool, server)
    r = run_as(mailout, user, sysbin, ["-t"], MSG, system_file=sysf)
    assert r.rc == EX_OK, r
    assert "queued in the system queue" in r.stderr, r
    assert len(drop.files()) == 1 and not server.messages
    q, log = root_run(mailout, server, drop)
    assert q.rc == EX_OK, q
    (m,) = server.messages
    assert m.rcpt_tos == ["alerts@example.org"]
    uid = pwd.getpwnam(user).pw_uid
    assert " uid=%d exitcode=EX_OK" % uid in log.read_text(), log.read_text()


def test_without_the_helper_it_says_why(mailout, server, spool):
    # The build under test: its LIBEXECDIR/mailout-drop is not installed here.
    sysf = system_file(spool, server)
    r = run_as(mailout, "nobody", Path(mailout.bin), ["-t"], MSG, system_file=sysf)
    if r.rc == EX_OK:
        pytest.skip("a mailout-drop is installed on this host")
    assert r.rc == EX_CONFIG, r
    assert "system queue is not installed" in r.stderr, r


def test_command_line_relay_settings_are_never_dropped(mailout, server, drop, spool, sysbin):
    sysf = system_file(spool, server)
    r = run_as(mailout, "nobody", sysbin, ["--host", server.host, "--port", str(server.port),
                                           "--tls", "off", "-t"], MSG, system_file=sysf)
    assert r.rc == EX_OK, r
    assert "system queue" not in r.stderr
    assert drop.files() == [] and len(server.messages) == 1


def test_relay_down_with_no_usable_queue_goes_to_the_system_queue(mailout, smtpd, refused_port,
                                                                  drop, spool, sysbin):
    # A readable system file with a password-less account: nobody sends
    # itself, and what it cannot send it cannot queue in /nonexistent.
    class Down:
        host, port = "127.0.0.1", refused_port.port
    sysf = system_file(spool, Down, mode=0o644)
    r = run_as(mailout, "nobody", sysbin, ["-t"], MSG, system_file=sysf)
    assert r.rc == EX_OK, r
    assert "queued in the system queue" in r.stderr, r
    assert len(drop.files()) == 1
    srv = smtpd("plain")
    q, _ = root_run(mailout, srv, drop)
    assert q.rc == EX_OK, q
    assert len(srv.messages) == 1


def test_a_system_passwordeval_is_never_run_by_a_user(mailout, server, drop, spool, sysbin):
    marker = spool / "ran"
    sysf = system_file(spool, server, mode=0o644, user="mailuser",
                       passwordeval="touch %s; echo x" % marker)
    r = run_as(mailout, "nobody", sysbin, ["-t"], MSG, system_file=sysf)
    assert r.rc == EX_OK, r
    assert not marker.exists(), "the system's passwordeval ran as nobody"
    (name,) = drop.files()
    assert b"\naccount system\n" in (drop.dir / name).read_bytes()


def test_own_account_keeps_the_own_queue(mailout, refused_port, drop, spool, sysbin):
    # SPEC 11 item 8: a user with their own account in their own file.
    home = Path(tempfile.mkdtemp(prefix="mo-own-", dir=str(spool)))
    pw = pwd.getpwnam("nobody")
    conf = home / ".config" / "mailout"
    conf.mkdir(parents=True)
    (conf / "config").write_text(
        'queue = onfail\naccount "mine" {\n host = "127.0.0.1"\n port = %d\n tls = off\n}\n'
        % refused_port.port)
    for d in (home, home / ".config", conf, conf / "config"):
        os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(conf / "config", 0o600)
    r = run_as(mailout, "nobody", sysbin, ["-t"], MSG, env=user_env("nobody", {"HOME": str(home)}))
    assert r.rc == EX_OK, r
    assert "system queue" not in r.stderr, r
    assert drop.files() == []
    assert list((home / ".local/state/mailout/queue/q").iterdir())


def test_an_uncreatable_mailbox_goes_to_the_system_queue(mailout, drop, spool, sysbin):
    # No system file, /var/mail root:mail 2775: nobody may not create its
    # mbox; the system (root's run) will.
    box = Path(tempfile.mkdtemp(prefix="mo-varmail-", dir=str(spool)))
    os.chmod(box, 0o2775)
    r = run_as(mailout, "nobody", sysbin, ["-i", "nobody"], b"Subject: cron\n\nout\n",
               env=user_env("nobody", {"MAIL": str(box / "nobody")}))
    assert r.rc == EX_OK, r
    assert "queued in the system queue" in r.stderr, r
    (name,) = drop.files()
    assert b"\nrcpt nobody\n" in (drop.dir / name).read_bytes()


def test_home_of_another_user_is_not_used(mailout, server, spool, sysbin):
    # cron started from a root shell: HOME=/root for nobody's job.  /root
    # is not nobody's: its files are neither read nor fatal.
    env = user_env("nobody", {"HOME": "/root", "XDG_CONFIG_HOME": "/root/.config"})
    os.makedirs("/root/.config", exist_ok=True)
    r = run_as(mailout, "nobody", sysbin, ["--host", server.host, "--port", str(server.port),
                                           "--tls", "off", "-t"], MSG, env=env)
    assert r.rc == EX_OK, r
    assert len(server.messages) == 1


def test_an_unreadable_user_file_is_skipped(mailout, server, spool, sysbin):
    home = Path(tempfile.mkdtemp(prefix="mo-home-", dir=str(spool)))
    pw = pwd.getpwnam("nobody")
    conf = home / ".config" / "mailout"
    conf.mkdir(parents=True)
    (conf / "config").write_text("queue = never\n")
    for d in (home, home / ".config", conf, conf / "config"):
        os.chown(d, pw.pw_uid, pw.pw_gid)
    os.chmod(conf / "config", 0)
    r = run_as(mailout, "nobody", sysbin, ["--host", server.host, "--port", str(server.port),
                                           "--tls", "off", "-t"], MSG,
               env=user_env("nobody", {"HOME": str(home)}))
    assert r.rc == EX_OK, r
    assert "skipping %s" % (conf / "config") in r.stderr, r


def test_mailname_is_the_mail_domain(mailout, server, tmp_path):
    name = tmp_path / "mailname"
    name.write_text("mail.example.net\n")
    binary = build_mailout(tmp_path, mailname=name)
    conf = mailout.write_config(relay_config(server))
    p = subprocess.run([str(binary), "-C", str(conf), "-f", "cron", "root@example.org"],
                       input=b"Subject: x\n\nbody\n", capture_output=True,
                       env=mailout.env(), timeout=30)
    assert p.returncode == EX_OK, p
    p = subprocess.run([str(binary), "-C", str(conf), "root@example.org"],
                       input=b"Subject: x\n\nbody\n", capture_output=True,
                       env=mailout.env(), timeout=30)
    assert p.returncode == EX_OK, p
    me = pwd.getpwuid(os.getuid()).pw_name
    assert [m.mail_from for m in server.messages] == ["cron@mail.example.net",
                                                      "%s@mail.example.net" % me]



def test_without_the_helper_an_unusable_queue_says_why(mailout, refused_port, spool):
    class Down:
        host, port = "127.0.0.1", refused_port.port
    sysf = system_file(spool, Down, mode=0o644)
    r = run_as(mailout, "nobody", Path(mailout.bin), ["-t"], MSG, system_file=sysf)
    if "system queue" in r.stderr and r.rc == EX_OK:
        pytest.skip("a mailout-drop is installed on this host")
    assert r.rc == EX_TEMPFAIL, r
    assert "is not usable, and the system queue is not installed" in r.stderr, r


def test_a_state_home_of_another_user_is_not_the_queue(mailout, spool, sysbin):
    # atd started from a root shell: root's XDG_STATE_HOME in nobody's job.
    env = user_env("nobody", {"HOME": "/root", "XDG_STATE_HOME": "/root/.local/state"})
    r = run_as(mailout, "nobody", sysbin, ["--host", "relay.example", "--show-config"], env=env)
    assert r.rc == EX_OK, r
    m = re.search(r'queue_dir\s+= "([^"]*)"', r.stdout)
    assert m and m.group(1) == pwd.getpwnam("nobody").pw_dir + "/.local/state/mailout/queue", \
        r.stdout


def test_queue_always_through_a_system_account_goes_to_the_system_queue(mailout, server, drop,
                                                                         spool, sysbin):
    sysf = spool / "system.conf"
    sysf.write_text(relay_config(server, account="system", globals_={"queue": "always"}))
    os.chmod(sysf, 0o644)
    r = run_as(mailout, "www-data", sysbin, ["-t"], MSG, system_file=sysf)
    assert r.rc == EX_OK, r
    assert "queued in the system queue" in r.stderr, r
    assert len(drop.files()) == 1 and not server.messages


def test_a_users_mailq_says_how_to_see_what_went_to_the_system_queue(mailout, server, spool,
                                                                      sysbin):
    """SPEC 11: a user's -bp lists their own queue, and says plainly that what
    they handed to the system queue is root's mailq's to list (on stderr:
    the listing on stdout stays what monitoring parses)."""
    home = spool / "nobody-home"
    home.mkdir()
    os.chown(home, pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid)
    r = run_as(mailout, "nobody", sysbin, ["-bp"], env=user_env("nobody", {"HOME": str(home)}))
    assert r.rc == EX_OK, r
    assert r.stdout.strip().endswith("Mail queue is empty"), r
    assert "handed to the system queue are listed by root's mailq" in r.stderr, r
