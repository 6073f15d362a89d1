"""contrib/msmtprc-import turns real-looking msmtprc files into configurations
that mailout accepts with the same meaning: each account's relay, port, TLS
mode, AUTH, user and sender (mailout --show-config), and the account chosen
for a given -f (mailout --dry-run), checked against msmtp --pretend itself when
msmtp is installed."""
import os
import re
import shutil
import subprocess

import pytest

BIN = os.environ.get("MAILOUT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "src", "mailout")
IMPORT = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "msmtprc-import")
MSMTP = shutil.which("msmtp")
needs_msmtp = pytest.mark.skipif(not MSMTP, reason="msmtp not installed")


def convert(tmp_path, text):
    rc = tmp_path / "msmtprc"
    rc.write_text(text)
    os.chmod(rc, 0o600)
    p = subprocess.run(["sh", IMPORT, str(rc)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    conf = tmp_path / "mailout.conf"
    conf.write_text(p.stdout)
    os.chmod(conf, 0o600)
    return conf, p.stdout


def show(conf, tmp_path, account=None, sender=None):
    args = [BIN, "-C", str(conf), "--show-config"]
    args += ["--account", account] if account else []
    args += ["-f", sender] if sender else []
    p = subprocess.run(args, capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    d = {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
         for line in p.stdout.splitlines() if line.startswith("  ") and "=" in line}
    d["account"] = re.search(r'^account "([^"]*)"', p.stdout, re.M).group(1)
    return d


def dry_run_account(conf, tmp_path, sender):
    """The account mailout would send a message from sender through."""
    p = subprocess.run([BIN, "-C", str(conf), "--dry-run", "-f", sender, "rcpt@example.net"],
                       input="Subject: t\n\nt\n", capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    return re.search(r"^Account: (\S+)", p.stdout, re.M).group(1)


def msmtp_pretend(tmp_path, account=None, sender=None):
    """msmtp's own resolution of an account: {key: value} from --pretend."""
    args = [MSMTP, "-C", str(tmp_path / "msmtprc"), "--pretend"]
    args += ["-a", account] if account else []
    args += ["-f", sender] if sender else []
    p = subprocess.run(args, capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, HOME=str(tmp_path)), stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr + p.stdout
    d = dict(re.findall(r"^([a-z_ ]+?) = (.*)$", p.stdout + p.stderr, re.M))
    m = re.search(r"^(?:using account|account chosen by envelope from address \S+:) (\S+)",
                  p.stdout + p.stderr, re.M)
    d["account"] = m.group(1)
    return d


def same_meaning(ms, mo):
    """msmtp --pretend and mailout --show-config describe the same relay use."""
    tls = "off" if ms["tls"] == "off" else ("smtps" if ms["tls_starttls"] == "off" else "starttls")
    assert mo["host"] == '"%s"' % ms["host"]
    assert mo["port"] == ms["port"]
    assert mo["tls"] == tls
    auth = {"none": "off", "choose": "on"}.get(ms["auth"], ms["auth"])
    assert mo["auth"] == auth
    assert mo["user"] == ('(not set)' if ms["user"] == "(not set)" else '"%s"' % ms["user"])
    assert mo["from"] == ('(not set)' if ms["from"] == "(not set)" else '"%s"' % ms["from"])


def check_accounts(tmp_path, conf, names):
    for name in names:
        mo = show(conf, tmp_path, name)
        if MSMTP:
            same_meaning(msmtp_pretend(tmp_path, name), mo)


DEBIAN_EXAMPLE = """# msmtp example
defaults
auth           on
tls            on
tls_trust_file /etc/ssl/certs/ca-certificates.crt
logfile        ~/.msmtp.log

account        gmail
host           smtp.gmail.com
port           587
from           username@gmail.com
user           username
passwordeval   "echo app-password"

account        work : gmail
host           mail.work.example
tls_starttls   off
port           465
from           jane@work.example

account default : gmail
"""


def test_debian_example_with_defaults_inheritance_and_default_alias(tmp_path):
    conf, text = convert(tmp_path, DEBIAN_EXAMPLE)
    gmail = show(conf, tmp_path, "gmail")
    assert gmail["host"] == '"smtp.gmail.com"' and gmail["port"] == "587"
    assert gmail["tls"] == "starttls" and gmail["auth"] == "on"
    assert gmail["passwordeval"] == '"echo app-password"'
    assert gmail["logfile"] == '"%s/.msmtp.log"' % tmp_path
    work = show(conf, tmp_path, "work")
    assert work["tls"] == "smtps" and work["port"] == "465"
    assert work["user"] == '"username"'          # inherited
    assert work["from"] == '"jane@work.example"'
    # `account default : gmail` with nothing of its own is an alias.
    assert 'default_account = "gmail"' in text and 'account "default"' not in text
    assert show(conf, tmp_path)["account"] == "gmail"
    check_accounts(tmp_path, conf, ["gmail", "work"])


def test_a_full_account_default_block_becomes_the_default_account(tmp_path):
    # The most common layout: everything in `account default`.
    conf, text = convert(tmp_path, """defaults
auth           on
tls            on
tls_trust_file /etc/ssl/certs/ca-certificates.crt
logfile        ~/.msmtp.log

account        default
host           smtp.example.com
port           587
from           me@example.com
user           me@example.com
passwordeval   "echo secret"
""")
    assert 'default_account = "default"' in text and 'account "default" {' in text
    d = show(conf, tmp_path)                   # chosen with no --account
    assert d["account"] == "default"
    assert d["host"] == '"smtp.example.com"' and d["port"] == "587"
    assert d["tls"] == "starttls" and d["auth"] == "on" and d["user"] == '"me@example.com"'
    assert dry_run_account(conf, tmp_path, "someone@else.example") == "default"
    check_accounts(tmp_path, conf, ["default"])
    if MSMTP:
        assert msmtp_pretend(tmp_path)["account"] == "default"


def test_default_account_that_adds_keys_is_a_real_account(tmp_path):
    conf, text = convert(tmp_path, """account isp
host mail.isp.example
from me@isp.example
tls on

account default : isp
port 2525
""")
    assert 'default_account = "default"' in text
    d = show(conf, tmp_path)
    assert d["account"] == "default" and d["port"] == "2525" and d["tls"] == "starttls"
    assert d["host"] == '"mail.isp.example"'
    check_accounts(tmp_path, conf, ["isp", "default"])


def test_msmtp_defaults_port_25_and_no_tls_when_unset(tmp_path):
    conf, text = convert(tmp_path, """account lan
host relay.lan.example
from cron@lan.example
""")
    lan = show(conf, tmp_path, "lan")
    assert lan["port"] == "25" and lan["tls"] == "off" and lan["auth"] == "off"
    assert "port = 25" in text and "tls = off" in text and "auth = off" in text
    check_accounts(tmp_path, conf, ["lan"])


def test_inherited_tls_starttls_off_gives_smtps_on_465(tmp_path):
    conf, text = convert(tmp_path, """defaults
tls_starttls off

account fastmail
host smtp.fastmail.com
tls on
auth on
user me@fastmail.example
passwordeval "echo x"

account plain
host 192.0.2.1
""")
    fm = show(conf, tmp_path, "fastmail")
    assert fm["tls"] == "smtps" and fm["port"] == "465"
    plain = show(conf, tmp_path, "plain")      # starttls off, but no tls: plain 25
    assert plain["tls"] == "off" and plain["port"] == "25"
    check_accounts(tmp_path, conf, ["fastmail", "plain"])


def test_defaults_apply_to_the_accounts_that_follow_only(tmp_path):
    # msmtp copies the defaults current at the account line; a parent passes
    # on what it set or inherited, not its defaults.
    conf, text = convert(tmp_path, """defaults
port 2525
account g
host g.example
tls on
account p : g
host p.example
defaults
port 2626
account c : p
from c@example.org
""")
    assert show(conf, tmp_path, "p")["port"] == "2525"
    c = show(conf, tmp_path, "c")
    assert c["port"] == "2626" and c["tls"] == "starttls" and c["host"] == '"p.example"'
    check_accounts(tmp_path, conf, ["g", "p", "c"])


def test_glued_colon_and_empty_arguments(tmp_path):
    conf, text = convert(tmp_path, """defaults
syslog LOG_MAIL

account local
from you@localhost
host localhost
tls
auth
user you

account default: local
""")
    assert 'default_account = "local"' in text and 'syslog = "LOG_MAIL"' in text
    local = show(conf, tmp_path, "local")
    assert local["tls"] == "starttls" and local["auth"] == "on"   # empty argument: on
    # no password: msmtp asks the keyring, and so does the imported account
    assert local["passwordeval"] == \
        '"secret-tool lookup host localhost service smtp user you"', local
    check_accounts(tmp_path, conf, ["local"])


SENDERS = """defaults
tls on
auth on

account personal
host smtp.personal.example
from me@personal.example
user me
passwordeval "echo x"

account work
host smtp.work.example
from jane@work.example
user jane
passwordeval "echo y"

account lists
host smtp.lists.example
from *@lists.example
user lists
passwordeval "echo z"

account default : personal
"""


@pytest.mark.parametrize("sender", [
    "me@personal.example", "ME@Personal.Example", "me+git@personal.example",
    "jane@work.example", "jane+hr@work.example", "anything@lists.example",
    "nobody@elsewhere.example"])
def test_account_chosen_by_from_as_msmtp_chooses(tmp_path, sender):
    conf, text = convert(tmp_path, SENDERS)
    assert 'senders = { "jane@work.example", "jane+*@work.example" }' in text
    assert 'senders = { "*@lists.example" }' in text
    want = {"personal": "personal", "work": "work", "lists": "lists",
            "elsewhere": "personal"}[re.search(r"@(\w+)", sender.lower()).group(1)]
    assert dry_run_account(conf, tmp_path, sender) == want
    assert show(conf, tmp_path, sender=sender)["account"] == want
    if MSMTP:
        ms = msmtp_pretend(tmp_path, sender=sender)
        # msmtp's default account is a copy of personal named "default".
        assert ms["account"] == want or (ms["account"] == "default" and want == "personal")


def test_auth_without_tls_never_sends_a_cleartext_password(tmp_path):
    conf, text = convert(tmp_path, """account old
host mail.old.example
auth on
user u
passwordeval "echo x"
""")
    assert show(conf, tmp_path, "old")["auth"] == "cram-md5"
    assert "cleartext" in text


def test_plain_relay_password_with_dollar_and_quote(tmp_path):
    conf, text = convert(tmp_path, """account lan
host 127.0.0.1
port 25
tls off
auth off
password "se\\"cr${x}et"
""")
    lan = show(conf, tmp_path, "lan")
    assert lan["tls"] == "off" and lan["auth"] == "off" and lan["password"] == "********"
    # The password reaches mailout verbatim: no ${x} expansion.
    assert "'se\"cr${x}et'" in text


def test_from_full_name_and_set_from_header(tmp_path):
    # from_full_name is msmtp 1.8.24 and later.
    conf, text = convert(tmp_path, """account a
host smtp.example.com
from jane@example.com
from_full_name Jane Q. Worker
set_from_header on
""")
    a = show(conf, tmp_path, "a")
    assert a["from_name"] == '"Jane Q. Worker"' and a["rewrite_from"] == "on"


def test_unsupported_keys_become_comments(tmp_path):
    conf, text = convert(tmp_path, """account a
host smtp.example.com
tls on
tls_fingerprint AA:BB
tls_certcheck off
auth scram-sha-1
user a
passwordeval pass show a
dsn_notify failure
proxy_host 127.0.0.1
proxy_port 9050
from %U@%H
""")
    a = show(conf, tmp_path, "a")
    assert a["proxy"] == '"socks5h://127.0.0.1:9050"'
    assert a["from"] == "(not set)"
    assert "# tls_fingerprint AA:BB" in text and "tls_pin" in text
    assert "--serverinfo --account a" in text
    assert "tls_certcheck off" in text and "dsn_notify" in text and "%U" in text


@pytest.mark.parametrize("text,message", [
    ("account a\nhost x\naccount a\nhost y\n", "account a was already defined"),
    ("account a : b\nhost x\n", "account b not (yet) defined"),
])
def test_files_msmtp_refuses_are_refused(tmp_path, text, message):
    rc = tmp_path / "msmtprc"
    rc.write_text(text)
    p = subprocess.run(["sh", IMPORT, str(rc)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 65 and message in p.stderr and "line" in p.stderr


def test_unreadable_file_is_exit_66(tmp_path):
    p = subprocess.run(["sh", IMPORT, str(tmp_path / "missing")], capture_output=True,
                       text=True, timeout=10)
    assert p.returncode == 66


def test_auth_without_a_user_is_flagged(tmp_path):
    rc = tmp_path / "msmtprc"
    rc.write_text("account a\nhost smtp.example.com\ntls on\nauth on\n")
    p = subprocess.run(["sh", IMPORT, str(rc)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0 and "no user" in p.stdout + p.stderr, p


AWKS = ["mawk", "gawk"]


@pytest.mark.parametrize("awk", AWKS)
@pytest.mark.parametrize("nl", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_backslashes_and_crlf_under_each_awk(tmp_path, awk, nl):
    """A backslash in a value (a Windows domain user, a password) reaches
    mailout unchanged, whichever awk runs the script (mawk and gawk treat
    backslashes in gsub() replacements differently), and a file with CRLF
    line ends reads as the same file with LF."""
    path = shutil.which(awk)
    if not path:
        pytest.skip("{} not installed (apt-get install {})".format(awk, awk))
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(path, str(bindir / "awk"))
    text = nl.join([
        "# msmtprc",
        "",
        "defaults",
        "tls on",
        "",
        "account work",
        "host smtp.example.com",
        "from jdoe@example.com",
        "user DOMAIN\\jdoe",
        'password "p\\\\w\\"d\\x"',
        "account other",
        "host smtp.example.net",
        "user u",
        'passwordeval "pass show $HOME\\\\mail"',
        "account default : work",
        ""])
    rc = tmp_path / "msmtprc"
    rc.write_bytes(text.encode())
    os.chmod(rc, 0o600)
    p = subprocess.run(["sh", IMPORT, str(rc)], capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, PATH="{}:{}".format(bindir, os.environ["PATH"])))
    assert p.returncode == 0, p.stderr
    assert "\r" not in p.stdout and "no mailout equivalent" not in p.stdout, p.stdout
    conf = tmp_path / "mailout.conf"
    conf.write_text(p.stdout)
    os.chmod(conf, 0o600)
    work = show(conf, tmp_path, account="work")
    assert work["user"] == '"DOMAIN\\jdoe"', p.stdout
    assert work["host"] == '"smtp.example.com"' and work["tls"] == "starttls", work
    assert 'password = "p\\\\w\\"d\\\\x"' in p.stdout, p.stdout
    other = show(conf, tmp_path, account="other")
    assert other["passwordeval"] == '"pass show $HOME\\mail"', p.stdout
    # `account default : work` adds nothing: work is the default account.
    assert show(conf, tmp_path)["account"] == "work"


def test_token_helper_account_keeps_passwordeval_and_names_oauth2(tmp_path):
    """msmtp has no OAuth2 settings of its own (passwordeval runs a token
    helper): the account is kept as it is, with a note on mailout's OAuth2."""
    conf, text = convert(tmp_path, """account m365
host smtp.office365.com
port 587
tls on
auth xoauth2
user you@example.com
passwordeval oama access you@example.com
from you@example.com
""")
    acct = show(conf, tmp_path, "m365")
    assert acct["auth"] == "xoauth2" and acct["passwordeval"] == '"oama access you@example.com"'
    assert "oauth2_token_url" in text and "OAUTH2 in mailout.conf(5)" in text
    assert "oauth2_token_url =" not in text

