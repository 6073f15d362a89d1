"""Authentication and TLS client settings against a real server: XOAUTH2 and
OAUTHBEARER with a token from passwordeval, redaction of every AUTH exchange
under -v, client certificates (tls_cert_file/tls_key_file) and auth =
external, and the account checks made when the account is chosen (auth
without user, no secret, TLS files that cannot work): exit 78 naming the
file, the line and mailout.conf(5), before anything is sent or queued.
"""
import base64
import os
import re
import shutil
import subprocess

import pytest

from mailout_run import (EX_CONFIG, EX_NOPERM, EX_OK, EX_UNAVAILABLE, account_block,
                         full_message, line_number_re, relay_config)
from mailout_run import assert_no_secret, queued
from smtpd_fixtures import make_client_cert

RCPT = "rcpt@example.com"
TOKEN = "ya29.A0-test_Token.value-42"
USER = "me@example.com"


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


# ---- OAuth 2.0 bearer tokens ----

@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_xoauth2_token_from_passwordeval(smtpd, send, mode):
    srv = smtpd(mode, auth=True, mechanisms=("XOAUTH2",), user=USER, password=TOKEN)
    res = send(srv, ["-v", "-v", RCPT], full_message(), auth="xoauth2", password=None,
               passwordeval="printf '%s\\n' " + TOKEN)
    assert res.rc == EX_OK, res
    m = srv.messages[0]
    assert m.auth is not None and m.auth.mechanism == "XOAUTH2"
    assert (m.auth.login, m.auth.password) == (USER, TOKEN)
    raw = "user={}\x01auth=Bearer {}\x01\x01".format(USER, TOKEN).encode()
    assert srv.sasl_responses == [raw]
    assert "AUTH XOAUTH2" in res.stderr and "[redacted]" in res.stderr
    assert_no_secret(res, TOKEN, b64(raw), b64(TOKEN.encode()))


def test_oauthbearer_token_from_passwordeval(smtpd, send):
    srv = smtpd("starttls", auth=True, mechanisms=("OAUTHBEARER",), user=USER,
                password=TOKEN)
    res = send(srv, ["-v", "-v", RCPT], full_message(), auth="oauthbearer", password=None,
               passwordeval="echo " + TOKEN)
    assert res.rc == EX_OK, res
    m = srv.messages[0]
    assert m.auth is not None and m.auth.mechanism == "OAUTHBEARER"
    assert (m.auth.login, m.auth.password) == (USER, TOKEN)
    raw = srv.sasl_responses[0]
    assert raw.startswith("n,a={},\x01".format(USER).encode()), raw
    assert raw.endswith("\x01auth=Bearer {}\x01\x01".format(TOKEN).encode()), raw
    assert "\x01host=127.0.0.1\x01port={}\x01".format(srv.port).encode() in raw, raw
    assert "AUTH OAUTHBEARER" in res.stderr and "[redacted]" in res.stderr
    assert_no_secret(res, TOKEN, b64(raw), b64(TOKEN.encode()))


def test_wrong_bearer_token_is_noperm_and_not_shown(smtpd, send):
    srv = smtpd("starttls", auth=True, mechanisms=("XOAUTH2",), user=USER, password=TOKEN)
    res = send(srv, ["-v", RCPT], full_message(), auth="xoauth2", password=None,
               passwordeval="echo wrong-token-77")
    assert res.rc == EX_NOPERM and srv.received_nothing(), res
    assert_no_secret(res, "wrong-token-77")


def test_token_is_never_offered_to_another_mechanism(smtpd, send):
    """auth = xoauth2 and a relay that offers only PLAIN/LOGIN: nothing sent,
    and the token does not go out as a password."""
    srv = smtpd("starttls", auth=True, user=USER, password=TOKEN)
    res = send(srv, [RCPT], full_message(), auth="xoauth2", password=None,
               passwordeval="echo " + TOKEN)
    assert res.rc != EX_OK and srv.received_nothing(), res
    assert not any(a.password == TOKEN for c in srv.connections for a in c.auth)


# ---- redaction of the other mechanisms ----

def test_cram_md5_exchange_is_redacted_under_verbose(smtpd, send):
    srv = smtpd("starttls", auth=True, mechanisms=("CRAM-MD5",))
    res = send(srv, ["-v", "-v", RCPT], full_message(), auth="cram-md5")
    assert res.rc == EX_OK, res
    assert srv.messages[0].auth.mechanism == "CRAM-MD5"
    # The client's response (base64 of "user hmac") is the line after AUTH.
    lines = bytes(srv.connections[0].wire_in).split(b"\r\n")
    i = next(i for i, l in enumerate(lines) if l.upper().startswith(b"AUTH CRAM-MD5"))
    response = lines[i + 1].decode()
    digest = base64.b64decode(response).decode().split(" ")[1]
    assert "[redacted]" in res.stderr
    assert_no_secret(res, response, digest, srv.password, b64(srv.password.encode()))


# ---- client certificates ----

@pytest.fixture(scope="module")
def client_cert(certs):
    return make_client_cert(certs)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_client_certificate_is_presented(smtpd, send, client_cert, mode):
    cert, key = client_cert
    srv = smtpd(mode, require_client_cert=True)
    res = send(srv, [RCPT], full_message(), tls_cert_file=cert, tls_key_file=key)
    assert res.rc == EX_OK, res
    peer = srv.messages[0].conn.client_cert
    assert peer and ((("commonName", "mailout test client"),) in peer["subject"]), peer


def test_client_certificate_and_key_in_one_file(smtpd, send, client_cert, tmp_path):
    cert, key = client_cert
    both = tmp_path / "both.pem"
    both.write_text(open(cert).read() + open(key).read())
    srv = smtpd("starttls", require_client_cert=True)
    res = send(srv, [RCPT], full_message(), tls_cert_file=str(both))
    assert res.rc == EX_OK, res
    assert srv.messages[0].conn.client_cert


def test_relay_that_requires_a_client_certificate_refuses_without_one(smtpd, send):
    srv = smtpd("smtps", require_client_cert=True)
    res = send(srv, [RCPT], full_message())
    assert res.rc != EX_OK and srv.received_nothing(), res


def test_auth_external_with_a_client_certificate(smtpd, send, client_cert):
    cert, key = client_cert
    srv = smtpd("starttls", auth=True, mechanisms=("EXTERNAL",), require_client_cert=True)
    res = send(srv, [RCPT], full_message(), auth="external", user=None, password=None,
               tls_cert_file=cert, tls_key_file=key)
    assert res.rc == EX_OK, res
    m = srv.messages[0]
    assert m.auth is not None and m.auth.mechanism == "EXTERNAL"


# ---- TLS files that cannot work: 78 at once, never queued ----

def tls_file_case(tmp_path, certs, client_cert, case):
    """(settings, key named, path named, reason) for one broken TLS setting."""
    cert, key = client_cert
    d = tmp_path
    if case == "missing cert":
        return {"tls_cert_file": str(d / "nope.crt"), "tls_key_file": key}, \
            "tls_cert_file", str(d / "nope.crt"), "No such file or directory"
    if case == "cert is a directory":
        return {"tls_cert_file": str(d), "tls_key_file": key}, "tls_cert_file", str(d), \
            "not a regular file"
    if case == "empty key":
        (d / "empty.key").write_text("")
        return {"tls_cert_file": cert, "tls_key_file": str(d / "empty.key")}, \
            "tls_key_file", str(d / "empty.key"), "empty"
    if case == "key of another certificate":
        return {"tls_cert_file": cert, "tls_key_file": certs.key}, "tls_key_file", \
            certs.key, "does not belong"
    if case == "encrypted key":
        enc = d / "enc.key"
        subprocess.run(["openssl", "pkey", "-in", key, "-out", str(enc), "-aes256",
                        "-passout", "pass:pw"], check=True, capture_output=True)
        return {"tls_cert_file": cert, "tls_key_file": str(enc)}, "tls_key_file", str(enc), \
            "encrypted"
    if case == "key without cert":
        return {"tls_key_file": key}, "tls_key_file", None, "tls_cert_file is not"
    if case == "missing trust file":
        return {"tls_trust_file": str(d / "ca.pem")}, "tls_trust_file", str(d / "ca.pem"), \
            "No such file or directory"
    if case == "trust file is no certificate":
        return {"tls_trust_file": key}, "tls_trust_file", key, "no PEM certificate"
    raise AssertionError(case)


TLS_CASES = ["missing cert", "cert is a directory", "empty key", "key of another certificate",
             "encrypted key", "key without cert", "missing trust file",
             "trust file is no certificate"]


@pytest.mark.parametrize("case", TLS_CASES)
def test_unusable_tls_file_is_config_error_not_queued(smtpd, mailout, certs, client_cert,
                                                      tmp_path, case):
    srv = smtpd("starttls")
    settings, key, path, reason = tls_file_case(tmp_path, certs, client_cert, case)
    conf = mailout.write_config(relay_config(srv, globals_=mailout.private_queue(), **settings))
    lines = conf.read_text().splitlines()
    line = next(i + 1 for i, l in enumerate(lines) if l.strip().startswith(key + " "))
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG, res
    assert line_number_re(conf, line).search(res.stderr), res
    assert key in res.stderr and reason in res.stderr and "mailout.conf(5)" in res.stderr, res
    if path:
        assert path in res.stderr, res
    assert srv.received_nothing() and not srv.connections, res
    assert queued(mailout, every_file=True) == [] and "queued" not in res.stderr, res
    # --dry-run finds it too
    dry = mailout.run(["--dry-run", RCPT], full_message(), config_file=conf)
    assert dry.rc == EX_CONFIG and key in dry.stderr, dry


def test_queue_run_keeps_message_when_a_tls_file_goes_missing(smtpd, mailout, certs,
                                                              client_cert, tmp_path,
                                                              refused_port):
    """A message queued while the relay was down, then the certificate file
    disappears: the queue run reports the file (a settings error) and keeps
    the message; it is not counted as a failed TLS handshake."""
    cert, key = client_cert
    mycert = tmp_path / "mine.crt"
    mycert.write_text(open(cert).read())
    srv = smtpd("starttls", require_client_cert=True)
    down = relay_config(srv, globals_=mailout.private_queue(), port=refused_port.port,
                        tls_cert_file=str(mycert), tls_key_file=key)
    conf = mailout.write_config(down)
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_OK and "queued" in res.stderr, res
    conf.write_text(relay_config(srv, globals_=mailout.private_queue(), tls_cert_file=str(mycert),
                                 tls_key_file=key))
    mycert.unlink()
    run = mailout.run(["-q"], config_file=conf)
    assert "tls_cert_file" in run.stderr and str(mycert) in run.stderr, run
    assert queued(mailout, every_file=True) != [] and srv.received_nothing(), run
    mycert.write_text(open(cert).read())
    run = mailout.run(["-q"], config_file=conf)
    assert run.rc == EX_OK and len(srv.messages) == 1 and queued(mailout, every_file=True) == [], run


# ---- account checks when the account is chosen ----

AUTH_NO_USER = """# an account that cannot authenticate
queue = onfail
queue_dir = "{queue}"
account "a" {{
  host = "127.0.0.1"
  port = {port}
  tls = off

  auth = on
}}
"""


def test_auth_on_without_user_fails_everywhere_with_file_and_line(server, mailout):
    conf = mailout.write_config(AUTH_NO_USER.format(port=server.port, queue=mailout.queue_dir))
    for args in (["--dry-run", RCPT], [RCPT]):
        res = mailout.run(args, full_message(), config_file=conf)
        assert res.rc == EX_CONFIG, res
        assert line_number_re(conf, 9).search(res.stderr), res
        assert "user" in res.stderr and "mailout.conf(5)" in res.stderr, res
    assert server.received_nothing() and queued(mailout, every_file=True) == []
    show = mailout.run(["--show-config"], config_file=conf)
    assert show.rc == EX_CONFIG, show
    assert 'account "a"' in show.stdout and "auth" in show.stdout, show   # settings first
    assert line_number_re(conf, 9).search(show.stderr), show


def test_user_without_any_secret_fails_at_dry_run(server, mailout):
    conf = mailout.write_config(relay_config(server, user="u"))
    res = mailout.run(["--dry-run", RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG, res
    assert "neither password nor passwordeval" in res.stderr
    assert "mailout.conf(5), SECRETS" in res.stderr
    assert re.search(re.escape(str(conf)) + r":\d+:", res.stderr), res


def test_failing_passwordeval_names_file_line_and_man_page(smtpd, mailout):
    srv = smtpd("starttls", auth=True)
    text = relay_config(srv, password=None, passwordeval="exit 3")
    conf = mailout.write_config(text)
    line = next(i + 1 for i, l in enumerate(text.splitlines())
                if l.strip().startswith("passwordeval "))
    res = mailout.run([RCPT], full_message(), config_file=conf)
    assert res.rc == EX_CONFIG and srv.received_nothing(), res
    assert line_number_re(conf, line).search(res.stderr), res
    assert "exit status 3" in res.stderr and "mailout.conf(5)" in res.stderr, res


def test_host_option_with_user_but_no_secret_is_78(server, mailout):
    res = mailout.run(["--host", server.host, "--port", str(server.port), "--tls", "off",
                       "--user", "u", "--dry-run", RCPT], full_message(),
                      env={"MAILOUT_CONFIG": None})
    assert res.rc == EX_CONFIG and "passwordeval" in res.stderr, res


def test_serverinfo_does_not_need_credentials(smtpd, mailout):
    srv = smtpd("starttls")
    conf = mailout.write_config(relay_config(srv, auth="on", user=None, password=None))
    res = mailout.run(["--serverinfo"], config_file=conf)
    assert res.rc == EX_OK, res


@pytest.mark.parametrize("mech,user,pw", [
    ("login", "me@example.com", "xyhunter2"),     # base64 "eHlodW50..." reads like EHLO
    ("login", "me@example.com", "AB-cdef"),       # "QUItY2Rl..." reads like QUIT
    ("login", "xyNorbert", "pw"),                 # the user name's "eHlO..."
    ("cram-md5", "xyh@example.com", "pw"),        # the CRAM-MD5 response
])
def test_sasl_responses_that_read_like_commands(smtpd, send, mech, user, pw):
    """submit.c took a base64 SASL response starting like EHLO or QUIT for
    that command and failed good credentials after the relay's 235."""
    srv = smtpd("smtps", auth=True, mechanisms=("CRAM-MD5", "PLAIN", "LOGIN"), user=user,
                password=pw)
    res = send(srv, ["rcpt@example.com"], full_message(), auth=mech)
    assert res.rc == EX_OK, res
    assert len(srv.messages) == 1


def test_tls_trust_file_replaces_the_system_store(smtpd, mailout, certs, mount_namespace):
    """With tls_trust_file, a relay whose CA is only in the system store
    (/etc/ssl/certs, which Debian's libcurl also loads unless told not to)
    must be refused: the password would go to any publicly trusted host.
    The system store is replaced, in a private mount namespace, by one
    holding only the relay's CA; the account trusts another CA."""
    store = mailout.tmp / "system-store"
    store.mkdir()
    shutil.copy(certs.ca, store / "relay-ca.pem")
    srv = smtpd("smtps", auth=True)
    conf = mailout.write_config(relay_config(srv, tls_trust_file=certs.untrusted_cert))
    script = 'mount --bind "$0" /etc/ssl/certs && exec "$@"'
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        str(store), mailout.bin, "-C", str(conf), "rcpt@example.com"],
                       input=full_message(), capture_output=True, env=mailout.env(), timeout=30)
    if b"unshare failed" in p.stderr or b"mount:" in p.stderr:
        pytest.skip("no private mount namespace here: %s" % p.stderr.decode())
    assert p.returncode == EX_UNAVAILABLE, p
    assert not srv.messages and all(not c.auth for c in srv.connections), \
        "the password went to the relay"
    # The same relay with its CA as the trust file is fine: the test is sound.
    conf = mailout.write_config(relay_config(srv, tls_trust_file=certs.ca))
    p = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", script,
                        str(store), mailout.bin, "-C", str(conf), "rcpt@example.com"],
                       input=full_message(), capture_output=True, env=mailout.env(), timeout=30)
    assert p.returncode == EX_OK, p


def test_no_password_over_tls_1_0_or_1_1(smtpd, send):
    """TLS 1.0 and 1.1 are withdrawn (RFC 8996); libcurl 7.88 still allows
    them unless told otherwise.  A relay that offers nothing newer gets no
    credentials and no message."""
    srv = smtpd("smtps", auth=True, old_tls=True)
    res = send(srv, ["rcpt@example.com"], full_message())
    assert res.rc != EX_OK and srv.received_nothing(), res
    assert all(not c.auth for c in srv.connections)


@pytest.mark.parametrize("auth", ["cram-md5", "xoauth2"])
def test_no_mechanism_in_common_is_69_not_refused_credentials(smtpd, send, auth):
    """libcurl sends no AUTH at all then; it was reported as the relay
    refusing the credentials (77), quoting the EHLO reply."""
    srv = smtpd("smtps", auth=True, mechanisms=("LOGIN",))
    res = send(srv, ["rcpt@example.com"], full_message(), auth=auth)
    assert res.rc == EX_UNAVAILABLE and "offers no AUTH mechanism" in res.stderr, res
    assert "refused the credentials" not in res.stderr
    assert srv.received_nothing() and all(not c.auth for c in srv.connections)
