"""contrib/msmtprc-import turns real-looking msmtprc files into configurations
that mailout accepts with the same meaning (checked with --show-config)."""
import os
import subprocess

BIN = os.environ.get("MAILOUT_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "src", "mailout")
IMPORT = os.path.join(os.path.dirname(__file__), "..", "..", "contrib", "msmtprc-import")


def convert(tmp_path, text):
    rc = tmp_path / "msmtprc"
    rc.write_text(text)
    p = subprocess.run(["sh", IMPORT, str(rc)], capture_output=True, text=True, timeout=10)
    assert p.returncode == 0, p.stderr
    conf = tmp_path / "mailout.conf"
    conf.write_text(p.stdout)
    os.chmod(conf, 0o600)
    return conf, p.stdout


def show(conf, tmp_path, account):
    p = subprocess.run([BIN, "-C", str(conf), "--show-config", "--account", account],
                       capture_output=True, text=True, timeout=10,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, p.stderr
    return {line.split("=", 1)[0].strip(): line.split("=", 1)[1].strip()
            for line in p.stdout.splitlines() if line.startswith("  ") and "=" in line}


def test_debian_example_with_defaults_inheritance_and_default_account(tmp_path):
    conf, text = convert(tmp_path, """# msmtp example
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
passwordeval   "pass show gmail | head -1"

account        work : gmail
host           mail.work.example
tls_starttls   off
port           465
from_full_name Jane Q. Worker

account default : gmail
""")
    gmail = show(conf, tmp_path, "gmail")
    assert gmail["host"] == '"smtp.gmail.com"' and gmail["port"] == "587"
    assert gmail["tls"] == "starttls" and gmail["auth"] == "on"
    assert gmail["passwordeval"] == '"pass show gmail | head -1"'
    work = show(conf, tmp_path, "work")
    assert work["tls"] == "smtps" and work["port"] == "465"
    assert work["user"] == '"username"'          # inherited
    assert work["from_name"] == '"Jane Q. Worker"'
    assert 'default_account = "gmail"' in text


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


def test_unsupported_keys_become_comments(tmp_path):
    conf, text = convert(tmp_path, """account a
host smtp.example.com
tls on
tls_fingerprint AA:BB
tls_certcheck off
auth scram-sha-1
dsn_notify failure
proxy_host 127.0.0.1
proxy_port 9050
""")
    a = show(conf, tmp_path, "a")
    assert a["proxy"] == '"socks5h://127.0.0.1:9050"'
    assert "# tls_fingerprint AA:BB" in text and "tls_pin" in text
    assert "tls_certcheck off" in text and "# msmtp key \"dsn_notify\"" in text
