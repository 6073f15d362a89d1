"""Secrets never leave mailout (SPEC 2, issue 7).

For every authentication mechanism (PLAIN, LOGIN, CRAM-MD5, XOAUTH2,
OAUTHBEARER), two accounts against real aiosmtpd relays on 127.0.0.1:

  a  the secret in the configuration file (password = ...)
  b  the secret from passwordeval (for XOAUTH2 and OAUTHBEARER, the token):
     a script that writes its own and its parent's command line and
     environment to a file before printing the secret

and a full verbose session with both: delivery with -v -v, a run that gets
queued (the relay defers MAIL after AUTH succeeded), a -q -v -v run that
delivers the queued messages (account a first, so b's passwordeval child
starts while a's secret is in memory), --show-config, and a refused login.
logfile and queue_dir are set.  Every byte mailout wrote -- stdout, stderr,
the log file, every file under queue_dir (looked at while the messages are
queued) -- and everything the passwordeval children saw in argv and
environment is searched for each secret: as it is, in base64, in the AUTH
PLAIN, XOAUTH2 and OAUTHBEARER forms, and inside any base64-looking token.
"""
import base64
import binascii
import os
import re
import textwrap

import pytest

from mailout_run import EX_NOPERM, EX_OK, account_block, conf_value, full_message
from mailout_run import queued

USER = "secret-user@example.com"
SECRET_A = "cfg-S3cret-Aa1!x"          # from the configuration file
SECRET_B = "evl-T0ken-Bb2.y_z"          # from passwordeval
MECHS = ["plain", "login", "cram-md5", "xoauth2", "oauthbearer"]


def b64(s):
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def leak_forms(secret, user=USER):
    """Fixed strings a leak of secret could take."""
    forms = {secret: "raw", b64(secret): "base64"}
    forms[b64("\0{}\0{}".format(user, secret))] = "AUTH PLAIN"
    forms[b64("{0}\0{0}\0{1}".format(user, secret))] = "AUTH PLAIN with authzid"
    forms[b64("user={}\x01auth=Bearer {}\x01\x01".format(user, secret))] = "XOAUTH2"
    forms["Bearer " + secret] = "bearer"
    return forms


B64_TOKEN = re.compile(rb"[A-Za-z0-9+/]{12,}={0,2}")


def leaks(blob, secrets=(SECRET_A, SECRET_B)):
    """Every way each secret shows in blob (bytes): the fixed forms, and
    inside any base64 token at any alignment (OAUTHBEARER's response holds
    the host and port, CRAM-MD5's the user, so no fixed string covers
    them)."""
    found = []
    for secret in secrets:
        for form, name in leak_forms(secret).items():
            if form.encode() in blob:
                found.append("{} ({})".format(name, secret))
        for tok in B64_TOKEN.findall(blob):
            for k in range(4):
                t = tok[k:]
                t = t[:len(t) - len(t) % 4]
                try:
                    if secret.encode() in base64.b64decode(t):
                        found.append("base64 token {}... ({})".format(tok[:16], secret))
                except (binascii.Error, ValueError):
                    pass
    return found


PEVAL = """\
#!/usr/bin/python3
# passwordeval for the tests: records what this process and its parents
# were given (argv, environment), then prints the secret.
import os, sys
with open(sys.argv[1], "ab") as f:
    pid = os.getpid()
    for depth in range(3):
        for what in ("cmdline", "environ"):
            try:
                with open("/proc/%d/%s" % (pid, what), "rb") as p:
                    data = p.read()
            except OSError as e:
                data = repr(e).encode()
            f.write(b"== %d %s %s\\n" % (depth, what.encode(), data))
        try:
            with open("/proc/%d/stat" % pid) as p:
                pid = int(p.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            break
        if pid <= 1:
            break
print("{secret}")
"""


class Session:
    """Two accounts (a: password, b: passwordeval) of one mechanism, with a
    queue and a log, and every output collected."""

    def __init__(self, mailout, smtpd, mech):
        self.mailout, self.smtpd, self.mech = mailout, smtpd, mech
        self.tmp = mailout.tmp
        self.dump = self.tmp / "passwordeval.seen"
        self.script = self.tmp / "peval.py"
        self.script.write_text(PEVAL.format(secret=SECRET_B))
        os.chmod(self.script, 0o700)
        self.outputs = []        # (what, bytes)

    def server(self, secret, **faults):
        return self.smtpd("plain", auth=True, user=USER, password=secret,
                          mechanisms=(self.mech.upper(),), **faults)

    def config(self, srv_a, srv_b):
        g = {"queue": "onfail", "queue_dir": str(self.tmp / "queue"),
             "logfile": str(self.tmp / "mail.log"), "default_account": "a"}
        text = "".join("{} = {}\n".format(k, conf_value(k, v)) for k, v in g.items())
        common = {"tls": "off", "timeout": 5, "domain": "client.example.test",
                  "auth": self.mech, "user": USER}
        text += account_block("a", dict(common, host=srv_a.host, port=srv_a.port,
                                        password=SECRET_A))
        text += account_block("b", dict(common, host=srv_b.host, port=srv_b.port,
                                        passwordeval="{} {}".format(self.script, self.dump)))
        path = self.tmp / "secrets.conf"
        path.write_text(text)
        os.chmod(path, 0o600)
        return path

    def run(self, conf, args, stdin=b"", what=""):
        res = self.mailout.run(["-C", str(conf)] + list(args), stdin, timeout=60)
        self.outputs.append(("stdout of " + what, res.out))
        self.outputs.append(("stderr of " + what, res.err))
        return res

    def collect_files(self, when):
        """The log and every file under queue_dir, as they are now."""
        files = [self.tmp / "mail.log"] + sorted((self.tmp / "queue").rglob("*"))
        for p in files:
            if p.is_file():
                self.outputs.append(("{} ({})".format(p, when), p.read_bytes()))

    def assert_no_leak(self):
        assert self.outputs
        bad = ["{}: {}".format(what, l) for what, blob in self.outputs for l in leaks(blob)]
        assert not bad, "\n".join(bad)


@pytest.mark.parametrize("mech", MECHS)
def test_no_secret_in_any_output_of_a_verbose_session(mailout, smtpd, mech):
    s = Session(mailout, smtpd, mech)
    good_a, good_b = s.server(SECRET_A), s.server(SECRET_B)
    conf = s.config(good_a, good_b)

    # 1. delivered, -v -v
    for acct, srv, secret in (("a", good_a, SECRET_A), ("b", good_b, SECRET_B)):
        res = s.run(conf, ["-v", "-v", "--account", acct, "rcpt@example.com"],
                    full_message(subject="direct " + acct), "delivery " + acct)
        assert res.rc == EX_OK, res
        assert len(srv.messages) == 1 and srv.messages[0].auth.mechanism == mech.upper()
        assert srv.messages[0].auth.success
        assert "--> AUTH " + mech.upper() in res.stderr, res   # the transcript is there

    # 2. queued: the relay defers MAIL after a successful AUTH
    def_a = s.server(SECRET_A, mail="451 4.3.0 try again later")
    def_b = s.server(SECRET_B, mail="451 4.3.0 try again later")
    conf = s.config(def_a, def_b)
    for acct in ("a", "b"):
        res = s.run(conf, ["-v", "-v", "--account", acct, "rcpt@example.com"],
                    full_message(subject="queued " + acct), "queued run " + acct)
        assert res.rc == EX_OK and "queued as" in res.stderr, res
    assert [c.authenticated is not None for c in def_a.connections + def_b.connections] == \
        [True, True]
    assert len(queued(s.tmp)) == 2
    s.collect_files("while queued")

    # 3. -q -v -v: both delivered, a first
    good_a2, good_b2 = s.server(SECRET_A), s.server(SECRET_B)
    conf = s.config(good_a2, good_b2)
    res = s.run(conf, ["-q", "-v", "-v"], what="-q run")
    assert res.rc == EX_OK, res
    assert len(good_a2.messages) == 1 and len(good_b2.messages) == 1, res
    assert queued(s.tmp) == []

    # 4. --show-config
    for acct in ("a", "b"):
        res = s.run(conf, ["--show-config", "--account", acct], what="--show-config " + acct)
        assert res.rc == EX_OK and USER in res.stdout, res

    # 5. a refused login, -v -v
    wrong = s.server("not-the-secret")
    conf = s.config(wrong, wrong)
    for acct in ("a", "b"):
        res = s.run(conf, ["-v", "-v", "--account", acct, "rcpt@example.com"],
                    full_message(subject="refused " + acct), "refused login " + acct)
        assert res.rc == EX_NOPERM, res

    s.collect_files("at the end")
    s.assert_no_leak()

    # passwordeval children: argv and environment, theirs and their parents'
    seen = s.dump.read_bytes()
    assert seen.count(b"== 0 cmdline") >= 4, seen[:500]   # 2 deliveries, -q, refused
    assert str(s.script).encode() in seen
    bad = leaks(seen)
    assert not bad, "passwordeval process saw: {}".format(bad)


def test_leak_detector_finds_each_form():
    """The search above would notice each kind of leak."""
    plain = b64("\0{}\0{}".format(USER, SECRET_A))
    oauthbearer = b64("n,a={},\x01host=127.0.0.1\x01port=1\x01auth=Bearer {}\x01\x01".format(
        USER, SECRET_B))
    cram = b64("{} {}".format(USER, SECRET_A))       # (not what CRAM-MD5 sends)
    for blob in (SECRET_A, b64(SECRET_B), "AUTH PLAIN " + plain, "--> " + oauthbearer,
                 "x" + cram + "y", textwrap.dedent("""\
                     host=h user=u errormsg='Bearer {}'""".format(SECRET_B))):
        assert leaks(blob.encode()), blob
    assert not leaks(b"AUTH PLAIN\n--> [redacted]\n" + b64("unrelated text here").encode())


@pytest.mark.parametrize("line,key,at", [
    ("password = Sekr1tX Sekr2tY", "password", 4),            # unquoted, with a space
    ("  password=Sekr1tX}Sekr2tY", "password", 4),
    ("passwordeval = pass show Sekr2tY", "passwordeval", 4),
    ('user = "u" password = Sekr1tX Sekr2tY', "password", 4),  # not first on its line
    ("password =\n   Sekr1tX Sekr2tY", "password", 5)])      # the value on the next line
def test_a_password_line_that_does_not_parse_is_not_quoted(mailout, line, key, at):
    """libconfuse names the token it choked on; on a password line that is
    part of the secret, so the message names the key and line instead."""
    conf = mailout.write_config('account "a" {\n  host = "relay.example"\n\n%s\n}\n' % line)
    res = mailout.run(["--show-config"], config_file=conf)
    assert res.rc == 78, res
    assert "Sekr" not in res.stderr + res.stdout, res
    assert ("%s:%d: cannot read the value of '%s'" % (conf, at, key)) in res.stderr, res
