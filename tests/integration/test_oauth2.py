"""OAuth2 built in (SPEC 13): mailout gets the XOAUTH2/OAUTHBEARER access
token from a token endpoint (a local HTTPS provider, oauth2_fixtures.py,
with the test CA) and the relay (aiosmtpd) checks the SASL strings."""
import base64
import os
import re
import stat
import subprocess
import time

import pytest

from mailout_run import (EX_CONFIG, EX_NOPERM, EX_OK, EX_TEMPFAIL, full_message,
                         relay_config)
from oauth2_fixtures import DEVICE_CODE_GRANT, Provider
from smtpd_fixtures import RefusedPort

USER = "alerts@example.com"


@pytest.fixture
def relay(smtpd):
    return smtpd("plain", auth=True, user=USER, password="no-token-yet",
                 mechanisms=("XOAUTH2", "OAUTHBEARER"))


@pytest.fixture
def provider(certs, relay):
    p = Provider(certs, smtp=relay)
    yield p
    p.stop()


def oauth_conf(mailout, relay, certs, token_url, tmp_path, *, auth="xoauth2", queue="never",
               **settings):
    s = dict(auth=auth, user=USER, password=None, oauth2_token_url=token_url,
             oauth2_client_id="client-1", oauth2_trust_file=certs.ca,
             oauth2_refresh_token_eval="echo run >> {}; echo rt-0".format(tmp_path / "evals"))
    s.update(settings)
    return mailout.write_config(relay_config(relay, globals_={
        "queue": queue, "queue_dir": str(mailout.queue_dir),
        "logfile": str(tmp_path / "mail.log")}, **s))


def store(mailout, account="test"):
    """The account's token store (oauth2.h): root's is under queue_dir."""
    if os.geteuid() == 0:
        return mailout.queue_dir / "oauth2" / account
    return mailout.home / ".local" / "state" / "mailout" / "oauth2" / account


def evals(tmp_path):
    p = tmp_path / "evals"
    return len(p.read_text().splitlines()) if p.exists() else 0


def send(mailout, conf, args=("-v",)):
    return mailout.run([*args, "rcpt@example.com"], full_message(), config_file=conf)


def xoauth2(token):
    return "user={}\x01auth=Bearer {}\x01\x01".format(USER, token).encode()


def assert_no_secret(text, *secrets):
    for s in secrets:
        assert s not in text, "secret {!r} shown:\n{}".format(s, text)


def test_first_use_fetches_a_token_and_stores_it(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_scope="https://outlook.office.com/SMTP.Send offline_access")
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    assert len(relay.messages) == 1
    assert relay.sasl_responses == [xoauth2("at-1")]
    [form] = provider.token_requests()
    assert form == {"grant_type": "refresh_token", "refresh_token": "rt-0",
                    "client_id": "client-1",
                    "scope": "https://outlook.office.com/SMTP.Send offline_access"}
    assert evals(tmp_path) == 1
    d = store(mailout)
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    cache = d / "access_token"
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    expiry, token = cache.read_text().splitlines()
    assert token == "at-1" and abs(int(expiry) - (time.time() + 3600)) < 30
    # No token, refresh token or secret on -v, in the log or in the answer.
    assert_no_secret(res.stderr + (tmp_path / "mail.log").read_text(), "at-1", "rt-0")


def test_cached_token_makes_no_request(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    assert send(mailout, conf).rc == EX_OK
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    assert len(provider.requests) == 1, "the cached access token is used"
    assert relay.sasl_responses == [xoauth2("at-1")] * 2
    assert len(relay.messages) == 2


def test_token_near_expiry_is_refreshed(mailout, relay, provider, certs, tmp_path):
    provider.expires_in = 30        # under the margin (OAUTH2_EXPIRY_MARGIN)
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    assert send(mailout, conf).rc == EX_OK
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    assert len(provider.token_requests()) == 2
    assert relay.sasl_responses == [xoauth2("at-1"), xoauth2("at-2")]


def test_rotated_refresh_token_is_stored_and_used(mailout, relay, provider, certs, tmp_path):
    provider.rotate, provider.expires_in = True, 30
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    assert send(mailout, conf).rc == EX_OK
    rt = store(mailout) / "refresh_token"
    assert rt.read_text() == "rt-1\n" and stat.S_IMODE(rt.stat().st_mode) == 0o600
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    assert [f["refresh_token"] for f in provider.token_requests()] == ["rt-0", "rt-1"]
    assert rt.read_text() == "rt-2\n"
    assert evals(tmp_path) == 1, "the eval command only seeds an empty store"
    # No temporary file is left beside the store's files.
    assert sorted(p.name for p in store(mailout).iterdir()) == \
        ["access_token", "lock", "refresh_token"]


def test_refused_cached_token_is_refreshed_once(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    assert send(mailout, conf).rc == EX_OK
    relay.password = "revoked"          # the provider revoked at-1 early
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    assert relay.sasl_responses[1:] == [xoauth2("at-1"), xoauth2("at-2")]
    assert len(provider.token_requests()) == 2
    assert "refused the cached OAuth2 access token" in res.stderr


@pytest.mark.parametrize("auth", ["xoauth2", "oauthbearer"])
def test_error_challenge_for_a_cached_token(mailout, relay, provider, certs, tmp_path, auth):
    """RFC 7628 section 3.2.2: the relay answers a bad token with a 334 error
    challenge, the client ends the exchange, then 535: refreshed and retried."""
    relay.faults.bearer_error = True
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path, auth=auth)
    assert send(mailout, conf).rc == EX_OK
    relay.password = "revoked"
    res = send(mailout, conf)
    assert res.rc == EX_OK, res.stderr
    assert len(provider.token_requests()) == 2
    assert relay.bearer_errors == 1
    assert len(relay.messages) == 2


def test_fresh_token_refused_is_not_retried(mailout, relay, provider, certs, tmp_path):
    """A token just fetched and refused: the credentials are wrong (77), no loop."""
    provider.smtp = None                # the relay never learns the token
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    res = send(mailout, conf)
    assert res.rc == EX_NOPERM, res
    assert len(provider.token_requests()) == 1 and len(relay.sasl_responses) == 1


def test_invalid_grant_says_authorize_again(mailout, relay, provider, certs, tmp_path):
    provider.valid_refresh = set()
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path, queue="onfail")
    res = send(mailout, conf)
    assert res.rc == EX_NOPERM, res
    assert "authorize again with mailout --authorize test" in res.stderr
    assert "invalid_grant" in res.stderr
    assert relay.sasl_responses == [] and mailout.queued() == []
    assert_no_secret(res.stderr, "rt-0")


def test_endpoint_down_is_temporary(mailout, relay, certs, tmp_path):
    down = RefusedPort()
    try:
        url = "https://127.0.0.1:{}/token".format(down.port)
        res = send(mailout, oauth_conf(mailout, relay, certs, url, tmp_path))
        assert res.rc == EX_TEMPFAIL, res
        assert "cannot be reached" in res.stderr
        res = send(mailout, oauth_conf(mailout, relay, certs, url, tmp_path, queue="onfail"),
                   args=())
        assert res.rc == EX_OK and "queued" in res.stderr, res
        assert len(mailout.queued()) == 1
    finally:
        down.stop()


def test_endpoint_5xx_is_temporary(mailout, relay, provider, certs, tmp_path):
    provider.script = [(503, b"<html>Service Unavailable</html>")]
    res = send(mailout, oauth_conf(mailout, relay, certs, provider.token_url, tmp_path))
    assert res.rc == EX_TEMPFAIL, res
    assert "HTTP 503" in res.stderr


def test_endpoint_with_untrusted_certificate_is_refused(mailout, relay, provider, certs,
                                                      tmp_path):
    """Without oauth2_trust_file the test CA is not trusted: no token is sent."""
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_trust_file=None)
    res = send(mailout, conf)
    assert res.rc != EX_OK and "certificate" in res.stderr, res
    assert provider.requests == []


def test_concurrent_senders_refresh_once(mailout, relay, provider, certs, tmp_path):
    """Rotation on, a slow endpoint, four senders at once: one refresh, and
    the others use its token (a second refresh with the same refresh token
    would be refused: invalid_grant)."""
    provider.rotate, provider.delay = True, 1.0
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    procs = [subprocess.Popen([mailout.bin, "-C", str(conf), "rcpt{}@example.com".format(i)],
                              env=mailout.env(), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(4)]
    for p in procs:         # every sender has its message before any is waited for
        p.stdin.write(full_message())
        p.stdin.close()
        p.stdin = None
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    assert len(provider.token_requests()) == 1
    assert len(relay.messages) == 4


def test_oauthbearer_string(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path, auth="oauthbearer")
    res = send(mailout, conf)
    assert res.rc == EX_OK, res
    [raw] = relay.sasl_responses
    assert raw.startswith("n,a={},".format(USER).encode())
    assert b"\x01auth=Bearer at-1\x01\x01" in raw


def test_client_secret_is_sent_and_masked(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_client_secret="cs-s3cret")
    assert send(mailout, conf).rc == EX_OK
    assert provider.token_requests()[0]["client_secret"] == "cs-s3cret"
    show = mailout.run(["--show-config"], config_file=conf)
    assert show.rc == EX_OK, show
    assert re.search(r"oauth2_client_secret\s+= \*{8}", show.stdout), show.stdout
    assert_no_secret(show.stdout, "cs-s3cret")


def test_client_secret_eval(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_client_secret_eval="echo cs-from-eval")
    assert send(mailout, conf).rc == EX_OK
    assert provider.token_requests()[0]["client_secret"] == "cs-from-eval"


def test_client_secret_needs_a_private_file(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_client_secret="cs-s3cret")
    os.chmod(conf, 0o644)
    res = send(mailout, conf)
    assert res.rc == EX_CONFIG, res
    assert provider.requests == []


def test_token_url_must_be_https(mailout, relay, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, "http://127.0.0.1:1/token", tmp_path)
    res = send(mailout, conf)
    assert res.rc == EX_CONFIG and "https://" in res.stderr, res


def test_no_refresh_token_says_authorize(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_refresh_token_eval=None)
    res = send(mailout, conf)
    assert res.rc == EX_NOPERM and "mailout --authorize test" in res.stderr, res


def test_basic_auth_off_points_at_oauth2(mailout, smtpd, tmp_path):
    srv = smtpd("plain", auth=True, auth_reply="535 5.7.30 Basic authentication is not "
                "supported for Client Submission")
    res = send(mailout, mailout.write_config(relay_config(srv)))
    assert res.rc == EX_NOPERM, res
    assert "oauth2_token_url" in res.stderr and "5.7.30" in res.stderr


# ---- mailout --authorize: the device authorization grant (RFC 8628) ----

def authorize(mailout, conf, timeout=60):
    return mailout.run(["--authorize", "test"], config_file=conf, timeout=timeout)


def device_conf(mailout, relay, certs, provider, tmp_path):
    return oauth_conf(mailout, relay, certs, provider.token_url, tmp_path,
                      oauth2_device_url=provider.device_url, oauth2_refresh_token_eval=None,
                      oauth2_scope="SMTP.Send offline_access")


def polls(provider):
    return [(f, t) for p, f, t in provider.requests
            if p == "/token" and f.get("grant_type") == DEVICE_CODE_GRANT]


def test_authorize_pending_then_success(mailout, relay, provider, certs, tmp_path):
    pending = (400, {"error": "authorization_pending"})
    provider.device_polls = [pending, pending]
    conf = device_conf(mailout, relay, certs, provider, tmp_path)
    res = authorize(mailout, conf)
    assert res.rc == EX_OK, res
    assert "https://provider.test/device" in res.stdout and "WDJB-MJHT" in res.stdout
    assert_no_secret(res.stdout + res.stderr, "dc-secret-1", "rt-1", "at-1")
    [(path, form, _)] = [r for r in provider.requests if r[0] == "/device"]
    assert form == {"client_id": "client-1", "scope": "SMTP.Send offline_access"}
    ps = polls(provider)
    assert len(ps) == 3 and ps[0][0]["device_code"] == "dc-secret-1"
    assert all(b[1] - a[1] >= 0.9 for a, b in zip(ps, ps[1:])), "polled at the interval"
    assert (store(mailout) / "refresh_token").read_text() == "rt-1\n"
    # The next message uses the stored tokens: no request at all.
    n = len(provider.requests)
    assert send(mailout, conf).rc == EX_OK
    assert len(provider.requests) == n and relay.sasl_responses == [xoauth2("at-1")]


def test_authorize_slow_down_adds_five_seconds(mailout, relay, provider, certs, tmp_path):
    provider.device_polls = [(400, {"error": "slow_down"})]
    res = authorize(mailout, device_conf(mailout, relay, certs, provider, tmp_path))
    assert res.rc == EX_OK, res
    (_, t1), (_, t2) = polls(provider)
    assert t2 - t1 >= 5.5, "interval 1 s + 5 s after slow_down"


@pytest.mark.parametrize("error,says", [
    ("expired_token", "the code expired"),
    ("access_denied", "was refused at the provider"),
])
def test_authorize_final_errors(mailout, relay, provider, certs, tmp_path, error, says):
    provider.device_polls = [(400, {"error": "authorization_pending"}), (400, {"error": error})]
    res = authorize(mailout, device_conf(mailout, relay, certs, provider, tmp_path))
    assert res.rc == EX_NOPERM, res
    assert says in res.stderr
    assert not (store(mailout) / "refresh_token").exists()


def test_authorize_needs_the_device_url(mailout, relay, provider, certs, tmp_path):
    conf = oauth_conf(mailout, relay, certs, provider.token_url, tmp_path)
    res = authorize(mailout, conf)
    assert res.rc == EX_CONFIG and "oauth2_device_url" in res.stderr, res


def test_show_config_lists_the_oauth2_keys(mailout, relay, provider, certs, tmp_path):
    show = mailout.run(["--show-config"], config_file=device_conf(mailout, relay, certs,
                                                                   provider, tmp_path))
    assert show.rc == EX_OK, show
    for key in ("oauth2_token_url", "oauth2_device_url", "oauth2_client_id", "oauth2_scope",
                "oauth2_trust_file", "oauth2_client_secret", "oauth2_refresh_token_eval"):
        assert re.search(r"^\s+{}\s+= ".format(key), show.stdout, re.M), key
